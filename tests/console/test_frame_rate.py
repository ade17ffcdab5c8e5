"""The console's frame rate is set by its entry point before Textual is imported."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from console.main import FRAMES_PER_SECOND

ROOT = Path(__file__).resolve().parents[2]

# Import the entry point the way `freshfleet` does, then read what Textual chose.
PROBE = "import console.main; import textual.constants as c; print(c.MAX_FPS)"


def _max_fps(env_fps: str | None) -> int:
    env = {k: v for k, v in os.environ.items() if k != "TEXTUAL_FPS"}
    if env_fps is not None:
        env["TEXTUAL_FPS"] = env_fps
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return int(done.stdout.strip())


def test_entry_point_is_console_main() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["freshfleet"] == "console.main:main"


def test_entry_point_sets_the_frame_rate_before_textual_is_imported() -> None:
    assert FRAMES_PER_SECOND > 60
    assert _max_fps(None) == FRAMES_PER_SECOND


def test_a_frame_rate_from_the_environment_wins() -> None:
    assert _max_fps("30") == 30
