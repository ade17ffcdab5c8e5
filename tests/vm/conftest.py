"""The VM group: one image per recipe, built once and cached; qemu must be there in CI."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootscript.image import vm
from tests.fixtures import qemu

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "vm"


def require_vm_tools() -> None:
    """Fail in CI, skip elsewhere, when this machine cannot build or boot the VM."""
    ok, why = qemu.qemu_available()
    if ok and not shutil.which("mmdebstrap"):
        ok, why = False, "mmdebstrap is not installed"
    if ok and os.geteuid() != 0:
        ok, why = False, "building the VM image needs root (mmdebstrap, chroot)"
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"the VM boot test must run in CI: {why}")
    pytest.skip(why)


@pytest.fixture(scope="session")
def vm_image() -> vm.VmImage:
    """The current recipe's VM image (a few minutes the first time, then from the cache)."""
    require_vm_tools()
    return vm.build_image()


@pytest.fixture
def console_dir() -> Iterator[Path]:
    """Where the VM's console logs are kept as artifacts (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield ARTIFACTS
