"""Following an instance's console output (`GetConsoleOutput`), yielding only new lines.

EC2 returns the last 64 KB of the console, base64-encoded. Between two polls the window
may slide: the new window is matched against the tail of the previous one, so each line
is yielded once. A line without its newline yet is held back until it is complete. EC2
cuts a full window by bytes, so its first line is then a fragment: it is dropped (the
whole line was shown by an earlier poll, while it was still inside the window).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import AsyncIterator, Sequence

from rollout.aws.gateway import AwsError, Gateway

_NO_LATEST = {"UnsupportedOperation", "InvalidParameterCombination", "InvalidParameterValue"}
_NOT_FOUND = {"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"}
WINDOW_BYTES = 64 * 1024  # EC2 keeps the console's last 64 KB


class InstanceNotFound(AwsError):
    """The instance id does not exist (or is malformed)."""


def decode_output(raw: str | None) -> str:
    """The console text from GetConsoleOutput's `Output` (base64; plain text tolerated)."""
    if not raw:
        return ""
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return raw


def complete_lines(text: str) -> list[str]:
    """The complete lines of `text` (a trailing partial line is left out), no `\\r`."""
    lines = text.split("\n")
    return [line.rstrip("\r") for line in lines[:-1]]


def window_lines(text: str) -> list[str]:
    """The complete lines of a console window, without the fragment a full window starts with.

    A window of (nearly) 64 KB was cut by bytes, so its first line is a line's tail (a
    multi-byte character cut there decodes as U+FFFD, which may add a few bytes).
    """
    lines = complete_lines(text)
    if lines and len(text.encode("utf-8", errors="replace")) >= WINDOW_BYTES - 3:
        return lines[1:]
    return lines


def _overlap(previous: Sequence[str], current: Sequence[str]) -> int | None:
    """The length of the longest suffix of `previous` that is a prefix of `current`."""
    if len(current) >= len(previous) and list(current[: len(previous)]) == list(previous):
        return len(previous)
    last = previous[-1]
    # Only positions where `current` repeats the previous last line can end an overlap.
    for k in range(min(len(previous), len(current)), 0, -1):
        if current[k - 1] == last and list(previous[-k:]) == list(current[:k]):
            return k
    return None


def new_lines(previous: Sequence[str], current: Sequence[str]) -> list[str]:
    """The lines of `current` after its overlap with the end of `previous`.

    `current` is a window that may have slid forward past the start of `previous`; the
    longest suffix of `previous` that is a prefix of `current` is the overlap. When
    nothing overlaps, `current`'s first line may be a fragment of a line already seen
    (a window cut by bytes): the overlap is then looked for after it. With no overlap at
    all, every line of `current` is new.
    """
    if not previous or not current:
        return list(current)
    k = _overlap(previous, current)
    if k is not None:
        return list(current[k:])
    k = _overlap(previous, current[1:]) if len(current) > 1 else None
    if k is not None:
        return list(current[1 + k :])
    return list(current)


class LineTail:
    """Successive console windows of one instance in, each line out once (and whole)."""

    def __init__(self) -> None:
        self._seen: list[str] = []

    def feed(self, text: str) -> list[str]:
        """The complete lines of `text` (a whole console window) not yet returned."""
        current = window_lines(text)
        fresh = new_lines(self._seen, current)
        if current:
            self._seen = current
        return fresh


class ConsoleFollower:
    """Polls one instance's console output; `poll()` returns the lines not yet seen."""

    def __init__(self, gateway: Gateway, instance_id: str) -> None:
        self.gateway = gateway
        self.instance_id = instance_id
        self._tail = LineTail()
        self._latest = True  # Latest=True is Nitro-only: fall back once when refused

    async def fetch(self) -> str:
        """The current console text (the last 64 KB EC2 keeps)."""
        params = {"InstanceId": self.instance_id}
        try:
            out = await self.gateway.call(
                "ec2", "get_console_output", **params, **({"Latest": True} if self._latest else {})
            )
        except AwsError as exc:
            if exc.code in _NOT_FOUND:
                raise InstanceNotFound(
                    f"no instance {self.instance_id} ({exc.code})", code=exc.code
                ) from exc
            if not (self._latest and exc.code in _NO_LATEST):
                raise
            self._latest = False
            out = await self.gateway.call("ec2", "get_console_output", **params)
        return decode_output(out.get("Output"))

    async def poll(self) -> list[str]:
        """Lines that appeared since the last poll (all complete lines on the first)."""
        return self._tail.feed(await self.fetch())


async def follow_console(
    gateway: Gateway, instance_id: str, *, interval: float = 2.0, follow: bool = True
) -> AsyncIterator[str]:
    """Yield the instance's console lines, then (with `follow`) each new line as it appears.

    Polls one at a time, `interval` seconds after each poll finishes. Raises
    InstanceNotFound for an unknown id.
    """
    follower = ConsoleFollower(gateway, instance_id)
    while True:
        for line in await follower.poll():
            yield line
        if not follow:
            return
        await asyncio.sleep(interval)
