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
