"""`freshfleet localaws` as a person runs it: one-line errors that leave nothing behind,
and SIGINT/SIGTERM end it and everything it started."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from localaws.process import LocalAws
from localaws.testing import FAST_TIMERS, start_test_localaws


def freshfleet_localaws(*args: str, endpoint_file: Path) -> subprocess.CompletedProcess[str]:
    """Run `freshfleet localaws ARGS` to completion in its own process group."""
    env = {**os.environ, **FAST_TIMERS, "FRESHFLEET_ENDPOINT_FILE": str(endpoint_file)}
    return subprocess.run(
        [sys.executable, "-m", "console.main", "localaws", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        start_new_session=True,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0]
    assert result.stdout == ""


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_an_unknown_boot_mode_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    endpoint = tmp_path / "localaws.json"
    result = freshfleet_localaws("--boot", "cloudy", "--port", "0", endpoint_file=endpoint)
    assert_one_line_error(result, "--boot", "cloudy", "auto, real, simulated")
    assert not endpoint.exists()


def test_a_time_scale_of_zero_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    endpoint = tmp_path / "localaws.json"
    result = freshfleet_localaws("--time-scale", "0", "--port", "0", endpoint_file=endpoint)
    assert_one_line_error(result, "time_scale", "above 0")
    assert result.returncode == 2
    assert not endpoint.exists()


def test_a_port_in_use_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    endpoint = tmp_path / "localaws.json"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = freshfleet_localaws(
            "--port", str(port), "--boot", "simulated", endpoint_file=endpoint
        )
    assert_one_line_error(result, f"port {port} is in use")
    assert not endpoint.exists()


def test_a_second_localaws_on_the_same_port_is_one_line_and_leaves_the_first_alone(
    localaws: LocalAws,
) -> None:
    assert localaws.endpoint_file is not None
    before = localaws.endpoint_file.read_text()
    port = localaws.url.rsplit(":", 1)[1]
    result = freshfleet_localaws(
        "--port", port, "--boot", "simulated", endpoint_file=localaws.endpoint_file
    )
    assert_one_line_error(result, "another localaws", str(localaws.pid))
    assert localaws.endpoint_file.read_text() == before
    assert localaws.alive


def test_sigterm_stops_localaws_and_removes_its_endpoint_file(
    tmp_path: Path, eventually: Callable[..., Any]
) -> None:
    handle = start_test_localaws(tmp_path, seed=False)
    try:
        assert handle.endpoint_file is not None
        record = json.loads(handle.endpoint_file.read_text())
        assert record["pid"] == handle.pid
        assert record["url"] == handle.url
        assert record["boot_mode"] == "simulated"
        os.kill(handle.pid, signal.SIGTERM)
        assert handle.process is not None
        assert handle.process.wait(30) == 0
        assert not handle.endpoint_file.exists()
        eventually(lambda: group_gone(handle.pid), what="no process left in its group")
    finally:
        handle.stop()


@pytest.mark.slow
def test_ctrl_c_stops_the_foreground_command(
    tmp_path: Path, eventually: Callable[..., Any]
) -> None:
    endpoint = tmp_path / "localaws.json"
    env = {**os.environ, **FAST_TIMERS, "FRESHFLEET_ENDPOINT_FILE": str(endpoint)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "console.main", "localaws", "--port", "0", "--boot", "simulated"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("localaws ready at "):
                break
        assert lines[0] == "localaws boot mode: simulated (--boot simulated)"
        assert lines[1].startswith("alb demo-web at http://127.0.0.1:")
        assert lines[2].startswith("localaws ready at http://127.0.0.1:")
        assert endpoint.exists()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        assert not endpoint.exists()
        eventually(lambda: group_gone(proc.pid), what="no process left in its group")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
