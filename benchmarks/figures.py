"""What every benchmark shares: printing a figure, CPU time per process, event-loop stalls.

A figure is one line `name: value unit` on stdout, the only thing benchmarks print there
(progress goes to stderr), so `run.py` and the tests can parse every line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import time
from collections.abc import Iterator

FIGURE = re.compile(r"^(?P<name>[a-z0-9_]+): (?P<value>-?[0-9.]+|nan) (?P<unit>\S+)$")
_TICKS = os.sysconf("SC_CLK_TCK")


def figure(name: str, value: float, unit: str) -> None:
    """Print one figure line (flushed, so a parent reading our stdout sees it at once)."""
    print(f"{name}: {value:.1f} {unit}", flush=True)


def note(text: str) -> None:
    """Progress for the person watching: stderr, never mixed with the figures."""
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    # After the command name: state is field 3, utime 14 and stime 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_mb(pid: int | None = None) -> float:
    """Resident set size of `pid` (default: this process) in MiB, from /proc."""
    with open(f"/proc/{pid or 'self'}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class StallMeter:
    """A ticker task that sleeps `period` s and records how late each wake-up was: the
    longest lateness while measuring is the worst stall the event loop suffered."""

    def __init__(self, period: float = 0.005) -> None:
        self.period = period
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None
        self._measuring = False

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.period
            await asyncio.sleep(self.period)
            late = loop.time() - due
            if self._measuring:
                self.worst = max(self.worst, late)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    @contextlib.contextmanager
    def measuring(self) -> Iterator[None]:
        """Count stalls only inside this block; `worst` is reset on entry."""
        self.worst = 0.0
        self._measuring = True
        try:
            yield
        finally:
            self._measuring = False

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def percentile(values: list[float], pct: float) -> float:
    """The `pct` percentile (nearest rank) of `values`; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


@contextlib.contextmanager
def cpu_timer() -> Iterator[list[float]]:
    """`with cpu_timer() as took:` → took[0] is this process's CPU seconds in the block."""
    took = [0.0]
    start = time.process_time()
    try:
        yield took
    finally:
        took[0] = time.process_time() - start
