"""The console at fleet scale, headless: first frame, key latency, repaint, memory.

The app runs under Textual's `run_test()` over a recorded fleet (so moto's speed does not
count) of `--rows` instances in 20 apps, `--changes` of them flipping health every 2 s.
A frame is the moment the app hands the screen's update to its driver (`App._display`),
after every changed line was rendered, so each figure ends when a person would see it.
The frame rate is the console's own (`console.main.pace_frames`, as `freshfleet` sets it).
After the key run the fleet keeps polling, with no keys, until `--polls` polls were
repainted, so the repaint percentiles have enough polls behind them.
The `_cpu_` figures are the main thread's CPU time over the same spans: what the figure
would be on an idle machine, where the wall-clock ones include waiting for a busy CPU.
Run alone in its process, so its RSS is the console's own.

    python -m benchmarks.console_bench --rows 5000 --changes 500
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from benchmarks.figures import figure, note, percentile, rss_mb

GROUPS = 20
POLL_SECONDS = 2.0
KEYS = ("down", "down", "down", "pagedown", "up", "down", "end", "home", "s", "S")


async def measure(rows: int, changes: int, presses: int, polls: int) -> None:
    from console.main import pace_frames

    pace_frames()  # before Textual is imported, as the entry point does
    from console.tui.fleet_source import RecordedSource
    from tests.fixtures.fleets import churning_fleet, demo_snapshot

    # The recorded fleet is the benchmark's fixture: made before the clock starts.
    base = demo_snapshot(
        apps=[f"bench-{n:02d}" for n in range(GROUPS)], instances_per_group=rows // GROUPS
    )
    source = RecordedSource(churning_fleet(base, changes))
    start, start_cpu = time.perf_counter(), time.process_time()  # Textual not imported yet
    from console.tui.app import Connection, FreshfleetApp

    async def connect() -> Connection:
        return Connection("LOCAL SANDBOX", source)

    app = FreshfleetApp(connect, poll_seconds=POLL_SECONDS)
    frames: list[tuple[float, tuple[Any, ...]]] = []  # (time, view signature) per frame
    frame_cpu: list[float] = []  # the main thread's CPU time at each frame
    applies: list[tuple[float, float]] = []  # (time, CPU) when each poll's update came

    def view() -> tuple[Any, ...]:
        t = app.fleet_screen.table
        return (t.cursor, int(t.scroll_y), t.sort_column, t.sort_reverse, t.snapshot)

    original_display = app._display

    def display(screen: Any, renderable: Any) -> None:
        original_display(screen, renderable)
        if renderable is not None and app.screen is not None:
            frames.append((time.perf_counter(), view() if _has_table(app) else ()))
            frame_cpu.append(time.thread_time())

    app._display = display  # type: ignore[method-assign]

    async with app.run_test(size=(180, 50)) as pilot:
        table = app.fleet_screen.table
        # The app has no event for "first fleet frame shown": poll for it, finely.
        while not (table.snapshot is not None and frames and frames[-1][1][4] is not None):  # noqa: ASYNC110
            await asyncio.sleep(0.001)
        first_frame = frames[-1][0] - start
        # CPU spent up to then (Textual's import included): the figure without the load.
        first_frame_cpu = time.process_time() - start_cpu
        note(f"first frame with {len(table.snapshot.instances)} rows")
        await asyncio.sleep(1.0)  # nobody presses a key within a moment of the first frame

        original_apply = table.apply

        def apply(update: Any) -> None:
            applies.append((time.perf_counter(), time.thread_time()))
            original_apply(update)

        table.apply = apply  # type: ignore[method-assign]

        latencies: list[float] = []
        latencies_cpu: list[float] = []  # the main thread's CPU in the same spans
        by_key: dict[str, list[float]] = {}
        for n in range(presses):
            key = KEYS[n % len(KEYS)]
            before = view()
            pressed, pressed_cpu = time.perf_counter(), time.thread_time()
            await pilot.press(key)
            shown = await _frame_after(frames, pressed, lambda v, b=before: v[:4] != b[:4])
            if shown is not None:
                latencies.append(frames[shown][0] - pressed)
                latencies_cpu.append(frame_cpu[shown] - pressed_cpu)
                by_key.setdefault(key, []).append(frame_cpu[shown] - pressed_cpu)
            await asyncio.sleep(0.03)
        keyed_polls = len(applies)
        deadline = time.perf_counter() + POLL_SECONDS * (polls + 5)
        while len(applies) <= polls and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)  # the frame of the last poll counted is in by the next
        repaints = []
        repaints_cpu = []
        for started, started_cpu in applies[: max(polls, keyed_polls)]:
            painted = next((k for k, (t, _) in enumerate(frames) if t >= started), None)
            if painted is not None:
                repaints.append(frames[painted][0] - started)
                repaints_cpu.append(frame_cpu[painted] - started_cpu)
        rss = rss_mb()
        await pilot.press("q")

    from textual import constants

    note(
        f"{presses} keys, {keyed_polls} polls applied while pressing, {len(repaints)} "
        f"repainted in all; frames at most {constants.MAX_FPS}/s"
    )
    note(
        "CPU ms per key, p50/max: "
        + ", ".join(
            f"{k} {1000 * percentile(v, 50):.0f}/{1000 * max(v):.0f}" for k, v in by_key.items()
        )
    )
    figure(f"first_frame_ms_{rows}", 1000 * first_frame, "ms")
    figure(f"first_frame_cpu_ms_{rows}", 1000 * first_frame_cpu, "ms")
    figure(f"key_latency_p99_{rows}", 1000 * percentile(latencies, 99), "ms")
    figure(f"key_latency_p50_{rows}", 1000 * percentile(latencies, 50), "ms")
    figure(f"key_latency_cpu_p99_{rows}", 1000 * percentile(latencies_cpu, 99), "ms")
    figure(f"repaint_ms_{rows}", 1000 * max(repaints, default=float("nan")), "ms")
    figure(f"repaint_p50_ms_{rows}", 1000 * percentile(repaints, 50), "ms")
    figure(f"repaint_p95_ms_{rows}", 1000 * percentile(repaints, 95), "ms")
    figure(f"repaint_cpu_ms_{rows}", 1000 * max(repaints_cpu, default=float("nan")), "ms")
    figure(f"rss_mb_{rows}", rss, "MB")


def _has_table(app: Any) -> bool:
    try:
        return bool(app.fleet_screen.is_mounted)
    except Exception:
        return False


async def _frame_after(
    frames: list[tuple[float, tuple[Any, ...]]], since: float, changed: Any, within: float = 30.0
) -> int | None:
    """The index of the first frame after `since` whose view satisfies `changed`."""
    deadline = time.perf_counter() + within
    seen = 0
    while True:
        while seen < len(frames):
            at, v = frames[seen]
            seen += 1
            if at >= since and v and changed(v):
                return seen - 1
        if time.perf_counter() > deadline:
            return None
        await asyncio.sleep(0.001)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--changes", type=int, default=500)
    parser.add_argument("--presses", type=int, default=300)
    parser.add_argument(
        "--polls", type=int, default=40, help="repaint at least this many polls in all"
    )
    args = parser.parse_args(argv)
    asyncio.run(measure(args.rows, args.changes, args.presses, args.polls))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
