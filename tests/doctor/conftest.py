"""doctor and init run as a user runs them: the `freshfleet` command against a localaws."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from console.main import main

# The image the demo's launch template uses: moto knows it, so instances launch from it.
IMAGE_ID = "ami-03cf127a"


@pytest.fixture
def freshfleet(monkeypatch: pytest.MonkeyPatch) -> Callable[..., int]:
    """`freshfleet(url, "doctor", "--app", "shop")`: run the CLI against the localaws at
    `url` and return its exit code (output goes to capsys)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "freshfleet")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "freshfleet")

    def run(url: str, *argv: str) -> int:
        return main([*argv, "--endpoint-url", url, "--region", "us-east-1"])

    return run
