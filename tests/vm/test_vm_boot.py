"""A fresh instance, for real: the base image boots freshfleet's user data under qemu.

Kernel, systemd, cloud-init (NoCloud seed), freshfleet-boot.service, the agent and Docker
all run as they do on EC2; the VM has no network, so the release comes on a second disk
that the VM serves on loopback, and the agent runs without IMDS, SSM or DynamoDB. Every
assertion reads the serial console, as `GetConsoleOutput` would show it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bootscript.image import serial, vm
from bootscript.releases import build_release_tarball
from rollout.model import Release
from rollout.userdata import UserDataContext, render_user_data
from tests.fixtures import qemu

PHASES = ("fetch", "verify", "extract", "build", "run", "health")
FIRST_BOOT_DEADLINE = 1200.0  # seconds: 6.5 min measured on 2 busy cores under TCG
REBOOT_DEADLINE = 900.0
# journald forwards unit output to the console behind "[  12.3] python3[456]: ", and a login
# prompt may share the line: match anywhere in a line, not from its start.
PROBE_HEALTH = r"freshfleet-vm-probe health (\S+) (.*)$"
PROBE_CLOUD_INIT = r"freshfleet-vm-probe cloud-init (.*)$"
PROBE_UNIT = r"freshfleet-vm-probe unit freshfleet-boot\.service (.*)$"
AGENT_FAIL = r"freshfleet-boot \S+ \w+ fail.*$"


def phase_lines(console: str) -> list[tuple[str, str]]:
    """(phase, status) of every agent phase line on the console."""
    return re.findall(r"freshfleet-boot \S+ (\w+) (start|ok|fail)\b", console)


def boot_until_healthy(machine: qemu.VirtualMachine, deadline: float) -> re.Match[str]:
    """Wait for the probe's health line; an agent failure line ends the wait at once."""
    match = machine.wait_for(f"{PROBE_HEALTH}|{AGENT_FAIL}", deadline)
    assert match.group(0).startswith("freshfleet-vm-probe"), match.group(0)
    return match


@pytest.mark.vm
@pytest.mark.slow
@pytest.mark.timeout(2700)
def test_a_fresh_vm_deploys_its_release_from_user_data_and_keeps_it_across_a_reboot(
    vm_image: vm.VmImage, tmp_path: Path, console_dir: Path
) -> None:
    tarball, sha256 = build_release_tarball("v1")
    release = Release(
        app="demo-web",
        version="v1",
        url=f"{qemu.RELEASE_SHELF}/demo-web-v1.tar.gz",
        sha256=sha256,
        port=8080,
        health_path="/health",
    )
    # The engine's own rendering, unchanged: no instances table, no SSM path.
    user_data = render_user_data(
        release, UserDataContext(rollout_id="20261127-120000-vm01", region="us-east-1")
    )
    root = qemu.make_overlay(vm_image, tmp_path / "root.qcow2")
    seed = qemu.make_seed(tmp_path / "seed.img", user_data, instance_id="i-0f1e5hf1ee7vm0001")
    shelf = qemu.make_release_disk(tmp_path / "releases.img", {"demo-web-v1.tar.gz": tarball})

    first = qemu.VirtualMachine(
        vm_image, root, (seed, shelf), console_dir / "first-boot.console.log"
    ).start()
    try:
        health = boot_until_healthy(first, FIRST_BOOT_DEADLINE)
        verdict = first.wait_for(PROBE_CLOUD_INIT, 120).group(1)
        unit = first.wait_for(PROBE_UNIT, 300).group(1)
        first.power_down()
    finally:
        first.kill()
    console = first.console()

    # cloud-init took the user data from the seed and found nothing to complain about.
    assert "status=done" in verdict and "datasource=nocloud" in verdict, verdict
    assert "errors=0" in verdict and "schema_warnings=0" in verdict, verdict
    # The unit ran and succeeded, and every phase of the agent said ok, in order.
    assert unit == "active success exit=0", unit
    assert phase_lines(console) == [(p, s) for p in PHASES for s in ("start", "ok")]
    # The container answers its health check with the release's version.
    assert health.group(1) == "200", health.group(0)
    assert '"version": "v1"' in health.group(2), health.group(0)
    # What GetConsoleOutput would show holds the phase summary too.
    assert "health ok" in serial.console_text(first.console_log)

    again = qemu.VirtualMachine(
        vm_image, root, (seed, shelf), console_dir / "reboot.console.log"
    ).start()
    try:
        health = boot_until_healthy(again, REBOOT_DEADLINE)
        unit = again.wait_for(PROBE_UNIT, 300).group(1)
        again.power_down()
    finally:
        again.kill()
    console = again.console()

    # Same disk, same instance: no redeploy, the container is simply back.
    assert unit == "active success exit=0", unit
    assert ("fetch", "start") not in phase_lines(console), console[-3000:]
    assert ("run", "ok") in phase_lines(console) and ("health", "ok") in phase_lines(console)
    assert health.group(1) == "200" and '"version": "v1"' in health.group(2), health.group(0)
