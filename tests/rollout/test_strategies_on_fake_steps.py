"""The strategies run on the steps protocol alone: against a fake of it (no AWS, no ledger),
each brings the new group into traffic in its order of steps and listener changes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

from rollout.config import RolloutSettings
from rollout.deploy.plan import RolloutPlan
from rollout.deploy.steps import GroupNow, RolloutSteps
from rollout.deploy.strategies import continue_after_resume, run_strategy
from rollout.events import RolloutResult
from rollout.fleet.traffic import TrafficPoint
from rollout.ledger.rollout_item import Step
from rollout.ledger.vocabulary import RolloutState, StepName, StepStatus
from rollout.model import Capacity, Release, ServerGroup

OLD = ServerGroup(
    name="web-old",
    release="v1",
    rollout_id="r0",
    target_group_arn="arn:tg/old",
    launch_template="web-lt",
    launch_template_version="1",
    capacity=Capacity(4, 4, 4),
)


def _plan(strategy: str, desired: int = 4) -> RolloutPlan:
    return RolloutPlan(
        app="web",
        rollout_id="r1",
        release=Release(app="web", version="v2", url="", sha256=""),
        strategy=strategy,
        traffic=TrafficPoint(app="web", listener_arn="arn:listener", load_balancer_arn="arn:lb"),
        old_group=OLD,
        new_group="web-new",
        launch_template="web-lt",
        launch_template_version="2",
        user_data="",
        user_data_sha256="",
        capacity=Capacity(desired, desired, desired),
        bake_seconds=0.0,
    )


@dataclass
class FakeSteps:
    """The steps protocol as a log: each operation appends what it was asked to do."""

    plan: RolloutPlan
    settings: RolloutSettings = field(default_factory=RolloutSettings)
    steps: list[Step] = field(default_factory=list)
    new: ServerGroup | None = None
    shifted: bool = False
    weights_history: list[dict[str, int]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    @asynccontextmanager
    async def step(self, name: StepName, detail: str = "") -> AsyncIterator[Step]:
        entry = Step(name, StepStatus.RUNNING, "t0", "", detail)
        self.steps.append(entry)
        self.log.append(f"step {name}")
        yield entry
        entry.status = StepStatus.OK

    async def check_abort(self) -> None:
        self.log.append("check abort")

    async def launch(self, capacity: Capacity) -> ServerGroup:
        self.log.append(f"launch {capacity.desired}")
        self.new = ServerGroup(
            name="web-new",
            release="v2",
            rollout_id="r1",
            target_group_arn="arn:tg/new",
            launch_template="web-lt",
            launch_template_version="2",
            capacity=capacity,
        )
        return self.new

    async def gate(self, group: ServerGroup, wanted: int) -> None:
        self.log.append(f"gate {group.name} {wanted}")

    async def watch(self, group: ServerGroup, wanted: int, seconds: float, what: str) -> None:
        self.log.append(f"watch {group.name} {wanted} ({what})")

    async def shift(self, weights: Mapping[str, int], why: str) -> None:
        self.log.append("shift " + " ".join(f"{n}={w}" for n, w in sorted(weights.items())))
        self.weights_history.append(dict(weights))
        self.shifted = self.shifted or weights.get("web-new", 0) > 0

    async def scale(self, group: ServerGroup, capacity: Capacity) -> ServerGroup:
        self.log.append(f"scale {group.name} {capacity.desired}")
        self.new = replace(group, capacity=capacity)
        return self.new

    async def record_group(self, group: ServerGroup) -> None:
        self.log.append(f"record {group.name} {group.capacity.desired}")
        self.new = group

    async def shrink(self, group: ServerGroup, count: int) -> None:
        self.log.append(f"shrink {group.name} {count}")

    async def group_now(self, group: ServerGroup) -> GroupNow | None:
        return GroupNow(group.capacity, ())

    async def healthy(self, group: ServerGroup) -> int:
        return group.capacity.desired

    async def retire(self) -> None:
        self.log.append("retire")

    async def finish(self, state: RolloutState, outcome: str, reason: str = "") -> RolloutResult:
        self.log.append(f"finish {state}")
        return RolloutResult(
            app="web",
            rollout_id="r1",
            state=state,
            from_release="v1",
            to_release="v2",
            strategy=self.plan.strategy,
            outcome=outcome,
            reason=reason,
            failed_step="",
        )


def _fake(strategy: str) -> FakeSteps:
    fake = FakeSteps(_plan(strategy))
    steps: RolloutSteps = fake  # the fake is one: mypy checks it against the protocol
    assert steps is fake
    return fake


async def test_blue_green_launches_at_full_capacity_gates_then_shifts_all_at_once() -> None:
    fake = _fake("blue-green")
    await run_strategy(fake)
    assert fake.log == [
        "step launch",
        "launch 4",
        "step gate",
        "gate web-new 4",
        "step shift",
        "shift web-new=100 web-old=0",
    ]


async def test_canary_gates_one_instance_watches_its_share_then_scales_gates_and_shifts() -> None:
    fake = _fake("canary")
    await run_strategy(fake)
    share = fake.settings.canary_share_percent
    assert fake.log == [
        "step launch",
        "launch 1",
        "step gate",
        "gate web-new 1",
        "step shift",
        f"shift web-new={share} web-old={100 - share}",
        "step watch",
        "watch web-new 1 (canary watch)",
        "step scale",
        "scale web-new 4",
        "step gate",
        "gate web-new 4",
        "step shift",
        "shift web-new=100 web-old=0",
    ]
    assert fake.new is not None and fake.new.capacity.desired == 4


async def test_rolling_grows_gates_shifts_and_shrinks_batch_by_batch() -> None:
    fake = _fake("rolling")  # 4 instances, batches of 25 %: one at a time
    await run_strategy(fake)
    expected = ["step launch", "launch 1"]
    for size in range(1, 5):
        if size > 1:
            expected += ["step scale", f"scale web-new {size}"]
        share = 25 * size
        expected += [
            "step gate",
            f"gate web-new {size}",
            "step shift",
            f"shift web-new={share} web-old={100 - share}",
            "step shrink",
            "shrink web-old 1",
        ]
    assert fake.log == expected
    assert [s.name for s in fake.steps].count(StepName.SHRINK) == 4


async def test_a_resumed_canary_part_way_records_the_group_as_aws_holds_it_and_goes_on() -> None:
    fake = _fake("canary")
    share = fake.settings.canary_share_percent
    fake.new = ServerGroup(
        name="web-new",
        release="v2",
        rollout_id="r1",
        target_group_arn="arn:tg/new",
        launch_template="web-lt",
        launch_template_version="2",
        capacity=Capacity(1, 4, 1),
    )
    fake.steps = [
        Step(StepName.PLAN, StepStatus.OK, "t0", "t0"),
        Step(StepName.LAUNCH, StepStatus.OK, "t0", "t1"),
        Step(StepName.GATE, StepStatus.OK, "t1", "t2"),
        Step(StepName.SHIFT, StepStatus.OK, "t2", "t3"),
        Step(StepName.WATCH, StepStatus.OK, "t3", "t4"),
    ]
    fake.weights_history = [{"web-new": share, "web-old": 100 - share}]
    fake.shifted = True
    assert await continue_after_resume(fake) is None  # on to the bake
    assert fake.log == [
        "record web-new 1",
        "step scale",
        "scale web-new 4",
        "step gate",
        "gate web-new 4",
        "step shift",
        "shift web-new=100 web-old=0",
    ]


async def test_a_resume_after_the_retire_began_retires_and_finishes_succeeded() -> None:
    fake = _fake("blue-green")
    fake.new = ServerGroup(
        name="web-new",
        release="v2",
        rollout_id="r1",
        target_group_arn="arn:tg/new",
        launch_template="web-lt",
        launch_template_version="2",
        capacity=Capacity(4, 4, 4),
    )
    fake.steps = [Step(StepName.RETIRE, StepStatus.INTERRUPTED, "t0", "t1")]
    fake.weights_history = [{"web-new": 100}]
    fake.shifted = True
    result = await continue_after_resume(fake)
    assert result is not None and result.state == RolloutState.SUCCEEDED
    assert fake.log == ["retire", "finish succeeded"]
