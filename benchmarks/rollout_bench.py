"""The rollout critical path: how long a deploy takes beyond the boot itself.

On a simulated localaws with fixed timers — pending P, boot B (six phases), health interval
I, healthy threshold T — and the engine's poll tick K with no bake, a blue-green deploy of
the demo's v2 should take P + B + T·I + K plus little: the engine's own AWS calls. The
duration is `Rollout.run()` (launch → gate → shift → bake 0 → retire), measured through the
engine's API on a freshly reseeded demo each time; `rollout_critical_path_s` is the bound
P + B + T·I + K + 1 s.

    python -m benchmarks.rollout_bench --runs bluegreen:4 bluegreen:100 rolling:100
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from benchmarks.figures import figure, note
from localaws.process import LocalAws
from localaws.testing import start_test_localaws
from rollout.aws.backend import Backend
from rollout.aws.gateway import Gateway
from rollout.config import Config, LocalAwsTimers, RolloutSettings
from rollout.deploy import DeployRequest, Rollout, make_plan
from rollout.events import GateProgress, StepFinished, StepStarted
from rollout.ledger.lease import DeployLock

APP = "demo-web"
TIMERS = LocalAwsTimers(time_scale=0.1, pending_seconds=10.0, phase_seconds=5.0)
# The demo's target group (localaws/demo/seed.py), which every deploy's new group clones.
DEMO_HEALTH_INTERVAL_SECONDS = 5
DEMO_HEALTHY_THRESHOLD = 2
POLL = 1.0
STRATEGY = {"bluegreen": "blue-green", "rolling": "rolling", "canary": "canary"}


def critical_path(timers: LocalAwsTimers = TIMERS, poll: float = POLL) -> float:
    """(P + B + T·I)·scale + K + 1 s: the bound a blue-green deploy must finish within."""
    boot = 6 * timers.phase_seconds
    checks = DEMO_HEALTHY_THRESHOLD * DEMO_HEALTH_INTERVAL_SECONDS
    return timers.time_scale * (timers.pending_seconds + boot + checks) + poll + 1.0


def _env(timers: LocalAwsTimers) -> dict[str, str]:
    return {
        f"FRESHFLEET_LOCALAWS__{name.upper()}": str(getattr(timers, name))
        for name in timers.__dataclass_fields__
    }


async def deploy(la: LocalAws, strategy: str, capacity: int) -> tuple[float, float]:
    """Deploy v2 of the demo at `capacity`; returns the seconds `run()` took and the
    seconds until the new group took all the traffic."""
    config = Config(
        rollout=RolloutSettings(
            bake_seconds=0.0,
            gate_deadline_seconds=120.0,
            canary_watch_seconds=0.0,
            poll_seconds=POLL,
        ),
        localaws=TIMERS,
    )
    async with Gateway(Backend(endpoint_url=la.url, region=la.region, local=True)) as gw:
        lock = DeployLock(gw, config.tables.locks, APP, config.rollout, message="benchmark")
        async with lock:
            request = DeployRequest(
                APP, "v2", strategy=strategy, capacity=capacity, bake_seconds=0.0
            )
            plan = await make_plan(gw, config, request)
            rollout = Rollout(gw, config, plan, lock)
            timeline: list[str] = []  # where the time went, for the person reading
            polls: list[str] = []
            in_traffic = [float("nan")]  # when the last shift ended: the new group serves

            async def follow() -> None:
                async for event in rollout.events():
                    if isinstance(event, GateProgress):
                        # The gate's polls: when the first and the last instance turned healthy.
                        at = time.monotonic() - started
                        polls.append(f"{event.healthy}/{event.wanted}@{at:.1f}")
                    if isinstance(event, StepStarted | StepFinished):
                        at = time.monotonic() - started
                        what = "start" if isinstance(event, StepStarted) else "end"
                        timeline.append(f"{event.step} {what} {at:.1f}")
                        if event.step == "shift" and what == "end":
                            in_traffic[0] = at

            started = time.monotonic()
            follower = asyncio.create_task(follow())
            result = await rollout.run()
            took = time.monotonic() - started
            await asyncio.wait({follower}, timeout=1.0)
            follower.cancel()
    if not result.ok:
        raise RuntimeError(f"{strategy} deploy of {capacity} failed: {result.reason}")
    note(f"{strategy} × {capacity}: {took:.1f} s; " + ", ".join(timeline))
    note("gate polls (healthy/wanted@s): " + " ".join(polls))
    return took, in_traffic[0]


async def _wait_demo_healthy(la: LocalAws, within: float = 60.0) -> None:
    """The reseeded demo's serving group is healthy (a deploy gates on nothing else)."""
    async with Gateway(Backend(endpoint_url=la.url, region=la.region, local=True)) as gw:
        deadline = time.monotonic() + within
        while True:
            tgs = await gw.paginate("elbv2", "describe_target_groups", "TargetGroups")
            healthy = 0
            for tg in tgs:
                out = await gw.call(
                    "elbv2", "describe_target_health", TargetGroupArn=tg["TargetGroupArn"]
                )
                healthy += sum(
                    1
                    for d in out["TargetHealthDescriptions"]
                    if d["TargetHealth"]["State"] == "healthy"
                )
            if tgs and healthy >= 3:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the demo's serving group never became healthy")
            await asyncio.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--runs", nargs="+", default=["bluegreen:4", "bluegreen:100", "rolling:100"]
    )
    args = parser.parse_args(argv)
    runs = [(kind, int(size)) for kind, _, size in (r.partition(":") for r in args.runs)]
    with (
        tempfile.TemporaryDirectory(prefix="bench-rollout-") as tmp,
        start_test_localaws(Path(tmp), seed=False, env=_env(TIMERS), ready_timeout=120) as la,
    ):
        for kind, size in runs:
            la.reseed()
            asyncio.run(_wait_demo_healthy(la))
            took, shifted = asyncio.run(deploy(la, STRATEGY[kind], size))
            figure(f"rollout_s_{kind}_{size}", took, "s")
            figure(f"rollout_shift_s_{kind}_{size}", shifted, "s")
    figure("rollout_critical_path_s", critical_path(), "s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
