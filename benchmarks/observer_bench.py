"""The fleet observer at scale: AWS calls, CPU and event-loop stalls per steady tick.

For each size, a fresh simulated localaws gets N instances in 20 apps (one serving server
group each), and once every target is healthy the observer ticks until nothing changes;
then `--ticks` steady ticks are measured. CPU is per process: ours (`process_time`, every
thread of this process) and localaws's (moto's server, the prober; from /proc).

    python -m benchmarks.observer_bench --sizes 1000 5000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import math
import tempfile
import time
from pathlib import Path

from benchmarks.figures import StallMeter, cpu_seconds, figure, note
from benchmarks.fleet_seed import seed_fleet, wait_healthy
from localaws.testing import start_test_localaws
from rollout.aws.backend import Backend
from rollout.aws.gateway import Gateway
from rollout.config import Tables
from rollout.fleet.observer import FleetObserver

GROUPS = 20


async def measure(
    url: str,
    pid: int,
    size: int,
    ticks: int,
    groups: int = GROUPS,
    profile: bool = False,
    stall_report: bool = False,
) -> None:
    tables = Tables()
    async with Gateway(Backend(endpoint_url=url, region="us-east-1", local=True)) as gw:
        started = time.monotonic()
        fleet = await seed_fleet(gw, tables, instances=size, groups=groups)
        note(f"{size} instances seeded in {time.monotonic() - started:.1f} s; waiting for health")
        took = await wait_healthy(gw, fleet, within=60 + size / 25)
        note(f"all {size} targets healthy after {took:.1f} s more")

        observer = FleetObserver(gw, tables)
        if stall_report:
            # asyncio names every callback that holds the loop over 50 ms (on stderr).
            logging.basicConfig(level=logging.WARNING)
            loop = asyncio.get_running_loop()
            loop.set_debug(True)
            loop.slow_callback_duration = 0.05
        stalls = StallMeter()
        stalls.start()
        with stalls.measuring():
            first = time.monotonic()
            snapshot, _ = await observer.tick()
            first_s = time.monotonic() - first
        note(f"first tick: {len(snapshot.instances)} instances in {first_s:.1f} s")
        # A big fleet on a busy machine may never be quite still: measure anyway, and say so.
        if not await _settle(observer, within=60.0 + size / 20):
            note("the fleet kept changing; the ticks below are not all steady")

        pauses = GcPauses()
        gc.callbacks.append(pauses)
        calls: list[int] = []
        ours: list[float] = []
        theirs: list[float] = []
        worst: list[float] = []
        for _ in range(ticks):
            mark = observer.calls.mark()
            cpu0, moto0 = time.process_time(), cpu_seconds(pid)
            with stalls.measuring():
                _, diff = await observer.tick()
            ours.append(time.process_time() - cpu0)
            theirs.append(cpu_seconds(pid) - moto0)
            worst.append(stalls.worst)
            made = observer.calls.since(mark)
            calls.append(sum(made.values()))
            note(f"steady tick: {dict(made)}" + ("" if diff.empty else " (something changed)"))
            await asyncio.sleep(0.5)
        gc.callbacks.remove(pauses)
        note(f"garbage collections during the steady ticks: {pauses.summary()}")
        if profile:
            await _profile_tick(observer)
        await stalls.stop()
        # ELB's and EC2's API budget over five minutes of steady ticks (2 s apart on the
        # observer's clock): every group read every tick (as before), then as it is now.
        before = await _api_rates(gw, tables, steady_seconds=0.0)
        after = await _api_rates(gw, tables, steady_seconds=None)
        note(f"every group every tick: ELB {before[0]:.2f}/s, EC2 {before[1]:.2f}/s")

    target = math.ceil(size / 1000) + len(fleet.target_groups) + 3
    note(f"calls per steady tick target for {size}: ≤ {target}")
    figure(f"observer_calls_{size}", max(calls), "calls")
    figure(f"observer_elb_calls_per_s_{size}", after[0], "calls/s")
    figure(f"observer_ec2_calls_per_s_{size}", after[1], "calls/s")
    figure(f"observer_elb_calls_per_s_every_tick_{size}", before[0], "calls/s")
    figure(f"observer_cpu_ms_{size}", 1000 * sum(ours) / len(ours), "ms")
    figure(f"observer_localaws_cpu_ms_{size}", 1000 * sum(theirs) / len(theirs), "ms")
    figure(f"loop_stall_max_{size}", 1000 * max(worst), "ms")
    figure(f"observer_first_tick_s_{size}", first_s, "s")


class GcPauses:
    """A `gc.callbacks` entry: how many collections of each generation, the longest each.

    A collection holds the GIL throughout, whichever thread runs it: the loop stalls.
    """

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.worst = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info["generation"]
        self.count[generation] += 1
        took = time.perf_counter() - self._started
        self.worst[generation] = max(self.worst[generation], took)

    def summary(self) -> str:
        return ", ".join(
            f"gen{g} {n}x, longest {1000 * w:.1f} ms"
            for g, (n, w) in enumerate(zip(self.count, self.worst, strict=True))
        )


class _ManualClock:
    """The observer's clock, moved one interval a tick: five minutes of ticks in one."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


BUDGET_TICKS = 150  # five minutes at the console's 2 s (one walk over the load balancers)


async def _api_rates(
    gw: Gateway, tables: Tables, steady_seconds: float | None
) -> tuple[float, float]:
    """(ELB, EC2) calls a second over BUDGET_TICKS steady ticks of a new observer."""
    clock = _ManualClock()
    observer = FleetObserver(gw, tables, interval=2.0, steady_seconds=steady_seconds, clock=clock)
    await observer.tick()
    await _settle(observer, within=120.0)
    mark = observer.calls.mark()
    for _ in range(BUDGET_TICKS):
        clock.now += observer.interval
        await observer.tick()
    made = observer.calls.since(mark)
    seconds = BUDGET_TICKS * observer.interval
    elb = sum(n for op, n in made.items() if op.startswith("elastic-load-balancing"))
    ec2 = sum(n for op, n in made.items() if op.startswith("ec2:"))
    note(f"{seconds:.0f} s of steady ticks (steady_seconds={steady_seconds}): {dict(made)}")
    return elb / seconds, ec2 / seconds


async def _profile_tick(observer: FleetObserver) -> None:
    """One more steady tick under pyinstrument (pip install pyinstrument), to stderr."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001, async_mode="enabled")
    with profiler:
        await observer.tick()
    note("profile of one steady tick:\n" + profiler.output_text(show_all=False))


async def _settle(observer: FleetObserver, within: float) -> bool:
    """Tick until two ticks in a row change nothing (True), or `within` s pass (False)."""
    deadline = time.monotonic() + within
    quiet = 0
    while quiet < 2:
        _, diff = await observer.tick()
        quiet = quiet + 1 if diff.empty else 0
        if not diff.empty:
            note(f"settling: {len(diff.changed)} changed, {len(diff.added)} added")
        if time.monotonic() > deadline:
            return False
    return True


_UNMETERED = {"FRESHFLEET_LOCALAWS__THROTTLING": "false"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--ticks", type=int, default=5)
    parser.add_argument("--groups", type=int, default=GROUPS, help="server groups (apps)")
    parser.add_argument("--profile", action="store_true", help="profile one steady tick")
    parser.add_argument(
        "--stall-report", action="store_true", help="log each callback that blocks the loop"
    )
    args = parser.parse_args(argv)
    for size in args.sizes:
        with (
            tempfile.TemporaryDirectory(prefix="bench-observer-") as tmp,
            # Seeding thousands of instances would wait on AWS's token buckets for minutes;
            # the benchmark counts the observer's calls instead of letting them be throttled.
            start_test_localaws(Path(tmp), seed=False, ready_timeout=120, env=_UNMETERED) as la,
        ):
            asyncio.run(
                measure(
                    la.url,
                    la.pid,
                    size,
                    args.ticks,
                    args.groups,
                    args.profile,
                    args.stall_report,
                )
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
