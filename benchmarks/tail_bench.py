"""Following console output: the console's CPU while a 64 KB log grows a line every 50 ms.

The engine's `ConsoleFollower` polls a console whose last 64 KB (EC2's window, base64 as
GetConsoleOutput returns it) slides forward by one line every 50 ms; each poll's new lines
go to a Textual `Log` pane, as the instance screen shows them. The window is generated from
the clock (a recorded console, like the fleet table's recorded snapshots) so moto's speed
does not count. Figures: the process's CPU share while following, and the worst lag from
a poll's answer to its lines being on screen, and how many lines were shown twice.

    python -m benchmarks.tail_bench --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import time
from typing import Any

from benchmarks.figures import figure, note

WINDOW = 64 * 1024
LINE_EVERY = 0.05
POLL_SECONDS = 1.0


def console_window(lines_so_far: int) -> str:
    """The last 64 KB of a console that has printed `lines_so_far` lines, base64."""
    out: list[str] = []
    size = 0
    n = lines_so_far
    while n > 0 and size < WINDOW:
        line = (
            f"[{n * LINE_EVERY:12.6f}] freshfleet-boot 2026-11-27T12:00:00Z build start "
            f"step {n}: RUN pip install --no-cache-dir -r requirements.txt\n"
        )
        out.append(line)
        size += len(line)
        n -= 1
    text = "".join(reversed(out))[-WINDOW:]
    return base64.b64encode(text.encode()).decode()


async def measure(seconds: float) -> None:
    from textual.app import App, ComposeResult
    from textual.widgets import Log

    from rollout.fleet.console_output import ConsoleFollower, LineTail

    started = time.monotonic()
    backlog = 2000  # the console already holds a full window when the pane opens

    class RecordedConsole(ConsoleFollower):
        """The follower with GetConsoleOutput's answer generated from the clock."""

        def __init__(self) -> None:
            self.instance_id = "i-0123456789abcdef0"
            self._tail = LineTail()
            self._latest = True
            self.grown: list[int] = []  # lines printed since the start, per fetch

        async def fetch(self) -> str:
            from rollout.fleet.console_output import decode_output

            grown = int((time.monotonic() - started) / LINE_EVERY)
            self.grown.append(grown)
            return decode_output(console_window(backlog + grown))

    class TailApp(App[None]):
        def compose(self) -> ComposeResult:
            yield Log(max_lines=2000)

    app = TailApp()
    frames: list[float] = []
    original = app._display

    def display(screen: Any, renderable: Any) -> None:
        original(screen, renderable)
        if renderable is not None:
            frames.append(time.perf_counter())

    app._display = display  # type: ignore[method-assign]
    follower = RecordedConsole()
    lags: list[float] = []
    lines = 0
    async with app.run_test(size=(160, 50)):
        log = app.query_one(Log)
        log.write_lines(await follower.poll())
        await asyncio.sleep(0.5)
        first_grown = follower.grown[-1]
        cpu0, wall0 = time.process_time(), time.monotonic()
        while time.monotonic() - wall0 < seconds:
            await asyncio.sleep(POLL_SECONDS)
            fresh = await follower.poll()
            answered = time.perf_counter()
            log.write_lines(fresh)
            lines += len(fresh)
            while not (frames and frames[-1] >= answered):
                if time.perf_counter() - answered > 5:
                    break
                await asyncio.sleep(0.002)
            if frames and frames[-1] >= answered:
                lags.append(frames[-1] - answered)
        cpu = time.process_time() - cpu0
        wall = time.monotonic() - wall0
    printed = follower.grown[-1] - first_grown
    note(f"followed {lines} lines in {wall:.0f} s while the console printed {printed}")
    figure("tail_cpu_pct", 100 * cpu / wall, "%")
    figure("tail_lag_max_ms", 1000 * max(lags, default=float("nan")), "ms")
    # Lines shown more than once (0 when the follower finds each window's overlap).
    figure("tail_repeated_lines", max(0, lines - printed), "lines")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    asyncio.run(measure(args.seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
