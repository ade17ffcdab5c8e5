"""ELB's API budget at fleet scale: every tool in an account shares ELB's Describe refill (10
calls a second), so a steady console asks ELB only every `steady_seconds` (a change in a
steady group is seen within that and one tick), while an app in a rollout is read every tick.

The observer's clock is a test clock here, moved 2 s a tick as the console's interval would.
"""

from __future__ import annotations

from collections import Counter

from rollout.aws.gateway import Gateway
from rollout.config import RolloutSettings, Tables
from rollout.fleet.observer import FleetObserver
from rollout.ledger.lease import DeployLock
from rollout.model import HealthState

from .moto_fleet import clients, seed_app

RID = "20261127-100000-aaaa"
HEALTH = "elastic-load-balancing-v2:DescribeTargetHealth"


class ManualClock:
    """Seconds that move only when the test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _elb(calls: Counter[str]) -> int:
    return sum(n for op, n in calls.items() if op.startswith("elastic-load-balancing"))


async def _ticks(observer: FleetObserver, clock: ManualClock, n: int) -> Counter[str]:
    mark = observer.calls.mark()
    for _ in range(n):
        clock.now += observer.interval
        await observer.tick()
    return observer.calls.since(mark)


async def test_a_steady_fleet_asks_elb_every_steady_seconds_and_sees_a_change_within_them(
    ledger: Gateway, moto: str
) -> None:
    apps = {name: seed_app(moto, name, release="v1", rollout_id=RID, capacity=2) for name in "abc"}
    clock = ManualClock()
    observer = FleetObserver(ledger, Tables(), interval=2.0, rediscover_every=1000, clock=clock)
    assert observer.steady_seconds == 20.0
    await observer.tick()

    # A minute of steady ticks: each group's health and the weights three times at most.
    calls = await _ticks(observer, clock, 30)
    assert calls[HEALTH] <= 3 * len(apps), dict(calls)
    assert _elb(calls) / 60.0 <= 0.5 * len(apps) / 3, dict(calls)
    assert calls["ec2:DescribeInstanceStatus"] == 0, dict(calls)

    # A target of a steady group leaves: seen within steady_seconds and one tick.
    seeded = apps["b"]
    group, tg = seeded.groups[RID]
    leaving = clients(moto)["autoscaling"].describe_auto_scaling_groups(
        AutoScalingGroupNames=[group]
    )["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
    clients(moto)["elbv2"].deregister_targets(TargetGroupArn=tg, Targets=[{"Id": leaving}])
    waited = 0.0
    while True:
        clock.now += observer.interval
        waited += observer.interval
        snapshot, _ = await observer.tick()
        health = snapshot.instances[leaving].health
        if health is None or health.state is not HealthState.HEALTHY:
            break
        assert waited <= observer.steady_seconds + observer.interval, "the change was not seen"


async def test_an_app_in_a_rollout_is_read_every_tick(ledger: Gateway, moto: str) -> None:
    tables = Tables()
    seed_app(moto, "calm", release="v1", rollout_id=RID, capacity=1)
    seed_app(moto, "busy", release="v1", rollout_id=RID, capacity=1)
    clock = ManualClock()
    observer = FleetObserver(ledger, tables, interval=2.0, rediscover_every=1000, clock=clock)
    await observer.tick()
    await _ticks(observer, clock, 2)

    async with Gateway(ledger.backend) as other:  # the deploying process
        lock = DeployLock(other, tables.locks, "busy", RolloutSettings(), owner="ann@laptop:42")
        await lock.acquire()
        try:
            await _ticks(observer, clock, 1)  # the tick that sees the lock
            calls = await _ticks(observer, clock, 5)
        finally:
            await lock.release()
    # The busy app's group every tick, and its listener: the calm one's not at all.
    assert calls[HEALTH] == 5, dict(calls)
    assert calls["elastic-load-balancing-v2:DescribeListeners"] == 5, dict(calls)
