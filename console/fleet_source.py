"""Where the console's fleet comes from: a protocol and its two implementations.

`ObserverSource` polls AWS through the engine's observer; `RecordedSource` replays
snapshots (or a synthetic fleet of any size) so tests, snapshots and benchmarks are
deterministic. The screen asks for one update at a time and re-arms when it finishes,
so a source never has two polls in flight.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from rollout.fleet_diff import diff_snapshots
from rollout.model import (
    App,
    BootPhase,
    FleetDiff,
    FleetSnapshot,
    GroupRole,
    HealthState,
    Instance,
    InstanceState,
    Phase,
    PhaseStatus,
    ServerGroup,
    TargetHealth,
)


@dataclass(frozen=True, slots=True)
class FleetUpdate:
    """One poll's result: the new snapshot and what changed since the previous one."""

    snapshot: FleetSnapshot
    diff: FleetDiff


class FleetSource(Protocol):
    """Something that can be polled for the fleet, one poll at a time."""

    async def poll(self) -> FleetUpdate:
        """The fleet now, and the diff from the last poll (everything, the first time)."""
        ...

    async def aclose(self) -> None:
        """Release clients; the source is not polled again."""
        ...


class RecordedSource:
    """Replays snapshots in order (the last one repeats), diffing each against the last.

    `frames` may also be a function of the tick number, for fleets that change forever
    (benchmarks); `fail_on` ticks raise `error` instead, to show a failing poll.
    """

    def __init__(
        self,
        frames: Sequence[FleetSnapshot] | Callable[[int], FleetSnapshot],
        *,
        fail_on: frozenset[int] = frozenset(),
        error: Exception | None = None,
    ) -> None:
        self._frames = frames
        self._tick = 0
        self._last: FleetSnapshot | None = None
        self._fail_on = fail_on
        self._error = error or RuntimeError("recorded failure")
        self.polls = 0

    async def poll(self) -> FleetUpdate:
        tick = self._tick
        self._tick += 1
        self.polls += 1
        if tick in self._fail_on:
            raise self._error
        if callable(self._frames):
            snap = self._frames(tick)
        else:
            snap = self._frames[min(tick, len(self._frames) - 1)]
        diff = diff_snapshots(self._last, snap)
        self._last = snap
        return FleetUpdate(snap, diff)

    async def aclose(self) -> None:
        return None


class ObserverSource:
    """The live fleet: the engine's `FleetObserver` over a Gateway, one tick per poll."""

    def __init__(self, observer: Any, on_close: Callable[[], Awaitable[None]] | None = None):
        self._observer = observer
        self._on_close = on_close

    async def poll(self) -> FleetUpdate:
        snapshot, diff = await self._observer.tick()
        return FleetUpdate(snapshot, diff)

    async def aclose(self) -> None:
        if self._on_close is not None:
            await self._on_close()


# A fixed moment so screenshots and snapshot tests never move.
FROZEN_NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
AZS = ("us-east-1a", "us-east-1b", "us-east-1c")


def _instance_id(rng: random.Random) -> str:
    return "i-" + "".join(rng.choice("0123456789abcdef") for _ in range(17))


def demo_snapshot(
    *,
    now: datetime = FROZEN_NOW,
    instances_per_group: int = 3,
    apps: Sequence[str] = ("demo-web",),
    backend: str = "LOCAL SANDBOX",
    seed: int = 7,
    with_rollout: bool = False,
) -> FleetSnapshot:
    """A deterministic fleet: each app serves v1 from one group; with `with_rollout`, a
    v2 group is launching beside it (one instance still booting, one unhealthy)."""
    rng = random.Random(seed)
    all_instances: dict[str, Instance] = {}
    app_objs: list[App] = []
    for app_name in apps:
        groups: list[ServerGroup] = []
        plan = [("v1", "20261126-091500-a1b2", GroupRole.SERVING, 100)]
        if with_rollout:
            plan.append(("v2", "20261127-115800-c3d4", GroupRole.LAUNCHING, 0))
        for release, rollout_id, role, weight in plan:
            name = f"{app_name}-{rollout_id}"
            ids: list[str] = []
            launched = now - (
                timedelta(hours=26) if role is GroupRole.SERVING else timedelta(seconds=95)
            )
            for n in range(instances_per_group):
                iid = _instance_id(rng)
                ids.append(iid)
                health = TargetHealth(HealthState.HEALTHY)
                boot = BootPhase(Phase.HEALTH, PhaseStatus.OK, launched + timedelta(seconds=40))
                state = InstanceState.RUNNING
                if role is GroupRole.LAUNCHING:
                    if n == 0:
                        health = TargetHealth(
                            HealthState.INITIAL,
                            "Elb.InitialHealthChecking",
                            "Initial health checks in progress",
                        )
                        boot = BootPhase(
                            Phase.BUILD, PhaseStatus.START, launched + timedelta(seconds=30)
                        )
                    elif n == 1:
                        health = TargetHealth(
                            HealthState.UNHEALTHY,
                            "Target.FailedHealthChecks",
                            "Health checks failed with these codes: [503]",
                        )
                all_instances[iid] = Instance(
                    instance_id=iid,
                    state=state,
                    app=app_name,
                    release=release,
                    rollout_id=rollout_id,
                    group=name,
                    az=AZS[n % len(AZS)],
                    instance_type="t3.small",
                    launched_at=launched,
                    private_ip=f"10.0.{n // 250}.{n % 250 + 4}",
                    health=health,
                    boot=boot,
                )
            groups.append(
                ServerGroup(
                    name=name,
                    app=app_name,
                    release=release,
                    rollout_id=rollout_id,
                    target_group_arn=f"arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/{name[:32]}/0",
                    min_size=instances_per_group,
                    max_size=instances_per_group,
                    desired=instances_per_group,
                    weight=weight,
                    role=role,
                    instance_ids=tuple(ids),
                    created_at=launched,
                )
            )
        app_objs.append(
            App(
                name=app_name,
                load_balancer_url="http://127.0.0.1:8080",
                groups=tuple(groups),
                active_rollout_id="20261127-115800-c3d4" if with_rollout else "",
            )
        )
    return FleetSnapshot(
        taken_at=now, apps=tuple(app_objs), instances=all_instances, backend=backend
    )


def with_health(snap: FleetSnapshot, instance_id: str, health: TargetHealth) -> FleetSnapshot:
    """The same fleet with one instance's target health changed."""
    instances = dict(snap.instances)
    instances[instance_id] = replace(instances[instance_id], health=health)
    return replace(snap, instances=instances)


def churning_fleet(
    base: FleetSnapshot, changes_per_tick: int, *, seed: int = 1
) -> Callable[[int], FleetSnapshot]:
    """Frames of `base` where `changes_per_tick` instances flip health each tick (benchmarks)."""
    ids = sorted(base.instances)
    rng = random.Random(seed)
    states = (
        TargetHealth(HealthState.HEALTHY),
        TargetHealth(HealthState.UNHEALTHY, "Target.Timeout", "Request timed out"),
    )
    current = dict(base.instances)

    def frame(tick: int) -> FleetSnapshot:
        if tick:
            for iid in rng.sample(ids, min(changes_per_tick, len(ids))):
                inst = current[iid]
                healthy = inst.health is not None and inst.health.healthy
                current[iid] = replace(inst, health=states[1 if healthy else 0])
        return replace(
            base, instances=dict(current), taken_at=base.taken_at + timedelta(seconds=tick)
        )

    return frame
