"""A new user's first minute, in a real terminal (tmux): open, look, ask for keys, quit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "tmux_console_smoke.sh"


@pytest.mark.slow
def test_freshfleet_opens_on_the_sandbox_shows_the_demo_and_quits_leaving_nothing_behind():
    done = subprocess.run(
        [str(SCRIPT), "--boot", "simulated"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok: no localaws process is left behind" in done.stdout


@pytest.mark.slow
def test_a_whole_session_by_keys_deploy_then_a_failed_deploy_then_rollback():
    script = SCRIPT.with_name("tmux_console_rollouts.sh")
    done = subprocess.run(
        [str(script), "--boot", "simulated"], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for step in ("the v2 rollout succeeds", "v3's gate fails and says why", "v1 serves again"):
        assert f"ok: {step}" in done.stdout


@pytest.mark.slow
@pytest.mark.docker
@pytest.mark.timeout(1800)  # a first start may build the release base image
def test_dev_console_on_a_machine_with_docker_shows_real_boots_building_their_release():
    script = SCRIPT.with_name("tmux_dev_console_real.sh")
    done = subprocess.run([str(script)], capture_output=True, text=True, timeout=1700)
    assert done.returncode == 0, done.stdout + done.stderr
    for step in ("the header says the instances boot for real", "the instance built its release"):
        assert f"ok: {step}" in done.stdout, done.stdout
