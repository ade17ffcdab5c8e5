"""freshfleet-boot.service: ordered after Docker and the network, never after cloud-final."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import bootscript

UNIT = Path(bootscript.__file__).parent / "freshfleet-boot.service"
DOCKER_UNIT_DIRS = ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")


def directives() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_systemd_analyze_verify_says_nothing(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if not tool:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs systemd-analyze (./dev test installs systemd)")
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / UNIT.name
    shutil.copy(UNIT, unit)
    env = dict(os.environ)
    if not any(Path(d, "docker.service").exists() for d in DOCKER_UNIT_DIRS):
        # An engine without a systemd unit here: stand one in, so Requires= resolves.
        stubs = tmp_path / "stubs"
        stubs.mkdir()
        (stubs / "docker.service").write_text(
            "[Unit]\nDescription=Docker (stand-in)\n[Service]\nExecStart=/bin/true\n"
        )
        env["SYSTEMD_UNIT_PATH"] = f"{stubs}:"  # the trailing ':' keeps the usual paths
    result = subprocess.run(
        [tool, "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    # verify exits 0 on parse warnings: any output at all is a failure.
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr


def test_the_unit_runs_once_after_docker_and_the_network() -> None:
    d = directives()
    assert d["Type"] == ["oneshot"]
    assert d["RemainAfterExit"] == ["yes"]
    assert d["After"] == ["network-online.target docker.service"]
    assert d["Wants"] == ["network-online.target"]
    assert d["Requires"] == ["docker.service"]
    assert d["StandardOutput"] == ["journal+console"]
    assert d["StandardError"] == ["journal"]  # the build log stays off the 64 KB console
    assert d["EnvironmentFile"] == ["/etc/freshfleet/release.env"]
    assert d["ExecStart"] == ["/usr/bin/python3 -m bootscript.agent"]


def test_the_unit_is_never_ordered_after_cloud_final() -> None:
    # cloud-final is ordered after multi-user.target on Debian: a cycle.
    for key in ("After", "Requires", "Wants", "BindsTo"):
        assert not any("cloud-final" in v for v in directives().get(key, []))
