"""A rollout's ledger item, typed (`RolloutItem`, `Step`): the item a rollout starts with is
the one the runner always wrote, and an item written by earlier versions reads back whole;
likewise a server group's record (`ServerGroup.as_item`)."""

from __future__ import annotations

from typing import Any

from rollout.deploy.plan import RolloutPlan
from rollout.fleet.traffic import TrafficPoint
from rollout.ledger.codec import from_item, to_item
from rollout.ledger.rollout_item import RolloutItem, Step
from rollout.ledger.vocabulary import RolloutState, StepName, StepStatus
from rollout.model import NO_CAPACITY, Capacity, Release, ServerGroup

OLD = ServerGroup(
    name="web-1",
    release="v1",
    rollout_id="r0",
    target_group_arn="arn:tg/1",
    launch_template="web-lt",
    launch_template_version="3",
    capacity=Capacity(2, 4, 3),
    health_check_type="ELB",
    grace_period=30,
    subnets="subnet-a",
)
NEW = ServerGroup(
    name="web-2",
    release="v2",
    rollout_id="r1",
    target_group_arn="arn:tg/2",
    launch_template="web-lt",
    launch_template_version="4",
    capacity=Capacity(3, 4, 3),
    health_check_type="ELB",
    grace_period=30,
    subnets="subnet-a",
)

PLAN = RolloutPlan(
    app="web",
    rollout_id="r1",
    release=Release(app="web", version="v2", url="", sha256=""),
    strategy="canary",
    traffic=TrafficPoint(
        app="web", listener_arn="arn:listener", load_balancer_arn="arn:lb", rule_arn="arn:rule"
    ),
    old_group=OLD,
    new_group="web-2",
    launch_template="web-lt",
    launch_template_version="4",
    user_data="",
    user_data_sha256="abc",
    capacity=Capacity(3, 4, 3),
    bake_seconds=60.0,
    grace_period=30,
    scale_in_held=("cpu",),
)

PLAN_STEP = {
    "name": "plan",
    "status": "ok",
    "started_at": "2026-01-01T00:00:00Z",
    "finished_at": "2026-01-01T00:00:00Z",
    "detail": "release: v1 -> v2",
}

# What the runner has always put when a rollout starts, written out by hand.
STARTED: dict[str, Any] = {
    "app": "web",
    "rollout_id": "r1",
    "state": "running",
    "owner": "me@host",
    "lock_generation": 7,
    "started_at": "2026-01-01T00:00:00Z",
    "finished_at": "",
    "steps": [PLAN_STEP],
    "abort_requested": False,
    "abort_by": "",
    "outcome": "",
    "reason": "",
    "shifted": False,
    "weights": {},
    "weights_history": [],
    "from_release": "v1",
    "to_release": "v2",
    "strategy": "canary",
    "new_group": "web-2",
    "old_group": OLD.as_item(),
    "listener_arn": "arn:listener",
    "rule_arn": "arn:rule",
    "load_balancer_arn": "arn:lb",
    "launch_template": "web-lt",
    "launch_template_version": "4",
    "user_data_sha256": "abc",
    "capacity": {"min_size": 3, "max_size": 4, "desired": 3},
    "bake_seconds": 60.0,
    "grace_period": 30,
    "scale_in_held": ["cpu"],
    "schedules_held": False,
}


def test_the_item_a_rollout_starts_with_is_the_one_always_written() -> None:
    item = PLAN.started_item(
        owner="me@host",
        lock_generation=7,
        at="2026-01-01T00:00:00Z",
        steps=(Step.from_item(PLAN_STEP),),
    )
    assert item.as_item() == STARTED
    assert to_item(item.as_item()) == to_item(STARTED)  # the same DynamoDB attributes


def test_an_item_written_part_way_reads_back_whole_through_the_codec() -> None:
    written = {
        **STARTED,
        "steps": [
            PLAN_STEP,
            {**PLAN_STEP, "name": "launch", "detail": "web-2: 1 canary instance"},
            {**PLAN_STEP, "name": "watch", "status": "running", "finished_at": ""},
        ],
        "shifted": True,
        "weights": {"web-2": 10, "web-1": 90},
        "weights_history": [
            {"at": "2026-01-01T00:01:00Z", "weights": {"web-2": 0, "web-1": 100}},
            {"at": "2026-01-01T00:02:00Z", "weights": {"web-2": 10, "web-1": 90}},
        ],
        "created": {"launch_template_version": "4", "target_group_arn": "arn:tg/2"},
        "new_group_ref": NEW.as_item(),
        "old_shrunk": True,
        "current_step": "watch",
        "abort_action": "rollback",
    }
    item = RolloutItem.from_item(from_item(to_item(written)))
    assert item.state == RolloutState.RUNNING
    assert [s.name for s in item.steps] == [StepName.PLAN, StepName.LAUNCH, StepName.WATCH]
    assert item.steps[-1].status == StepStatus.RUNNING and not item.steps[-1].ok
    assert item.steps[1].ok and item.steps[1].detail == "web-2: 1 canary instance"
    assert item.old_group == OLD and item.new_group_ref == NEW
    assert item.capacity == Capacity(3, 4, 3)
    assert item.weights_by_group == [{"web-2": 0, "web-1": 100}, {"web-2": 10, "web-1": 90}]
    assert item.created == {"launch_template_version": "4", "target_group_arn": "arn:tg/2"}
    assert item.shifted and item.old_shrunk and item.lock_generation == 7
    assert item.bake_seconds == 60.0 and item.grace_period == 30
    assert item.scale_in_held == ("cpu",) and item.abort_action == "rollback"
    assert [s.as_item() for s in item.steps] == written["steps"]


def test_an_old_sparse_item_reads_with_defaults() -> None:
    item = RolloutItem.from_item({"app": "web", "rollout_id": "r0", "state": "succeeded"})
    assert item.strategy == "blue-green" and item.old_group is None and item.steps == ()
    assert item.bake_seconds is None and item.capacity == Capacity(0, 0, 0)
    assert Step.from_item({"name": "gate", "status": "done"}).done  # an older word for ok


def test_the_times_read_parsed_and_traffic_moved_by_flag_or_by_a_completed_shift() -> None:
    shift = Step(StepName.SHIFT, StepStatus.OK, "2026-11-27T10:00:00Z", "2026-11-27T10:00:02Z")
    item = RolloutItem(
        "web", "r1", RolloutState.RUNNING, started_at="2026-11-27T09:59:00Z", steps=(shift,)
    )
    assert shift.started is not None and shift.started.isoformat() == "2026-11-27T10:00:00+00:00"
    assert shift.seconds == 2.0 and item.step(StepName.SHIFT) is shift
    assert item.finished is None and item.duration_seconds is None and item.unfinished
    assert item.has_shifted and not item.shifted  # the raw flag is the state machine's own
    running = Step(StepName.SHIFT, StepStatus.RUNNING, "2026-11-27T10:00:00Z")
    assert running.finished is None and running.seconds is None
    assert not RolloutItem("web", "r1", RolloutState.RUNNING, steps=(running,)).has_shifted
    assert RolloutItem("web", "r1", RolloutState.RUNNING, shifted=True).has_shifted
    assert Step("gate", "ok", "not a time").started is None  # unreadable reads as unknown


# A server group's record (`ServerGroup.as_item`): its capacity is written as the flat
# min_size/max_size/desired keys older versions wrote, so their rollouts still resume.
# The record as every version has written it, keys in their order.
ITEM = {
    "name": "web-1",
    "release": "v1",
    "rollout_id": "r0",
    "target_group_arn": "arn:tg/1",
    "launch_template": "web-lt",
    "launch_template_version": "3",
    "min_size": 2,
    "max_size": 4,
    "desired": 3,
    "health_check_type": "ELB",
    "grace_period": 30,
    "subnets": "subnet-a",
}


def test_a_group_is_recorded_with_flat_size_keys() -> None:
    assert OLD.as_item() == ITEM
    assert list(OLD.as_item()) == list(ITEM)


def test_a_record_reads_back_as_the_same_group() -> None:
    assert ServerGroup.from_item(OLD.as_item()) == OLD
    assert ServerGroup.from_item(ITEM) == OLD
    assert ServerGroup.from_item(from_item(to_item(OLD.as_item()))) == OLD


def test_a_record_without_sizes_reads_with_no_capacity() -> None:
    sparse = {k: v for k, v in ITEM.items() if k not in ("min_size", "max_size", "desired")}
    assert ServerGroup.from_item(sparse).capacity == NO_CAPACITY
    assert ServerGroup.from_item({**sparse, "desired": 5}).capacity == Capacity(0, 0, 5)


def _stored(plan: RolloutPlan, **changes: Any) -> RolloutItem:
    """`plan`'s started item, with `changes`, written through the codec and read back."""
    started = plan.started_item(
        owner="me@host", lock_generation=7, at="2026-01-01T00:00:00Z", steps=()
    )
    return RolloutItem.from_item(from_item(to_item({**started.as_item(), **changes})))


def test_a_stored_item_rebuilds_the_plan_it_was_started_from() -> None:
    back = RolloutPlan.from_item(_stored(PLAN), PLAN.release, bake_seconds=600.0)
    kept = ("app", "rollout_id", "release", "strategy", "new_group", "launch_template")
    kept += ("launch_template_version", "user_data_sha256", "capacity", "bake_seconds")
    kept += ("grace_period", "scale_in_held", "schedules_held")
    assert {k: getattr(back, k) for k in kept} == {k: getattr(PLAN, k) for k in kept}
    # The old group as the ledger keeps it: enough to resume or retire it.
    assert back.old_group is not None and back.old_group.as_item() == OLD.as_item()
    was, now = PLAN.traffic, back.traffic
    assert (now.listener_arn, now.load_balancer_arn, now.rule_arn) == (
        was.listener_arn,
        was.load_balancer_arn,
        was.rule_arn,
    )
    # What the item does not keep is left empty, never guessed.
    assert (back.user_data, now.vpc_id, now.subnets, now.url) == ("", "", (), "")


def test_an_item_that_recorded_no_bake_rebuilds_with_the_settings_default() -> None:
    unrecorded = _stored(PLAN, bake_seconds=None)
    assert unrecorded.bake_seconds is None
    assert RolloutPlan.from_item(unrecorded, PLAN.release, bake_seconds=600.0).bake_seconds == 600.0
