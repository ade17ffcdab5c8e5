"""A VM's serial log read the way EC2's `GetConsoleOutput` serves an instance's console.

EC2 returns the most recent 64 KB of the console, base64-encoded, with a timestamp; this
module gives a serial log file the same shape, so whatever shows an instance's console
(`freshfleet logs`, the console pane) can show a local VM's by the same path.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CONSOLE_LIMIT = 64 * 1024  # GetConsoleOutput's window: the latest 64 KB


def console_text(path: Path, limit: int = CONSOLE_LIMIT) -> str:
    """The latest `limit` bytes of the serial log as text, starting at a whole line.

    An absent file is an empty console (an instance that has not booted yet).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ""
    if len(data) > limit:
        data = data[-limit:]
        data = data[data.find(b"\n") + 1 :] if b"\n" in data else data
    return data.decode(errors="replace").replace("\r\n", "\n")


def get_console_output(path: Path, instance_id: str) -> dict[str, Any]:
    """The serial log as the EC2 API's GetConsoleOutput response: InstanceId, Output
    (base64 of the latest 64 KB) and Timestamp (the log's last write)."""
    try:
        stamp = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except FileNotFoundError:
        stamp = datetime.now(UTC)
    text = console_text(path)
    return {
        "InstanceId": instance_id,
        "Output": base64.b64encode(text.encode()).decode(),
        "Timestamp": stamp,
    }
