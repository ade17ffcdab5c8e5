"""The moto names localaws patches still exist, on the moto version they were written for.

Each patch also has a behaviour test through plain boto3 (see the module docstrings of
this folder); this one names the patch point a moto upgrade moved.
"""

from __future__ import annotations

import importlib.metadata
import inspect

import pytest

from localaws.patches import MOTO_VERSION, PATCHED


def test_moto_is_the_pinned_version() -> None:
    assert importlib.metadata.version("moto") == MOTO_VERSION


@pytest.mark.parametrize(
    ("owner", "name"),
    [(owner, name) for owner, name, _ in PATCHED],
    ids=[f"{owner.__name__}.{name}" for owner, name, _ in PATCHED],
)
def test_the_patched_name_exists(owner: type, name: str) -> None:
    assert callable(getattr(owner, name, None)), f"moto no longer has {owner.__name__}.{name}"


def test_console_output_is_still_served_by_the_patched_class() -> None:
    from moto.ec2.responses import EC2Response
    from moto.ec2.responses.general import General

    assert inspect.getattr_static(EC2Response, "get_console_output") is (
        inspect.getattr_static(General, "get_console_output")
    )
