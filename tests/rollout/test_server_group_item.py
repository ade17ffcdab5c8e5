"""A server group's ledger record (`ServerGroup.as_item`): its capacity is written as the flat
`min_size`, `max_size` and `desired` keys older versions wrote, and the record reads back as
the same group, so a rollout recorded by an older version still resumes."""

from __future__ import annotations

from rollout.ledger.codec import from_item, to_item
from rollout.model import NO_CAPACITY, Capacity, ServerGroup

GROUP = ServerGroup(
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
    assert GROUP.as_item() == ITEM
    assert list(GROUP.as_item()) == list(ITEM)


def test_a_record_reads_back_as_the_same_group() -> None:
    assert ServerGroup.from_item(GROUP.as_item()) == GROUP
    assert ServerGroup.from_item(ITEM) == GROUP
    assert ServerGroup.from_item(from_item(to_item(GROUP.as_item()))) == GROUP


def test_a_record_without_sizes_reads_with_no_capacity() -> None:
    sparse = {k: v for k, v in ITEM.items() if k not in ("min_size", "max_size", "desired")}
    assert ServerGroup.from_item(sparse).capacity == NO_CAPACITY
    assert ServerGroup.from_item({**sparse, "desired": 5}).capacity == Capacity(0, 0, 5)
