"""The observer and the rollout engine read an ASG's tags and launch template alike."""

from __future__ import annotations

from typing import Any

from rollout.fleet_records import group_of, launch_template_of
from rollout.model import TAG_APP, TAG_RELEASE, TAG_ROLLOUT
from rollout.rollouts.groups import _group_of

SPEC = {"LaunchTemplateId": "lt-0abc", "LaunchTemplateName": "freshfleet-web", "Version": "7"}


def _asg(**launch: Any) -> dict[str, Any]:
    return {
        "AutoScalingGroupName": "web-20260102-030405-abcd",
        "Tags": [
            {"Key": TAG_APP, "Value": "web"},
            {"Key": TAG_RELEASE, "Value": "v2"},
            {"Key": TAG_ROLLOUT, "Value": "20260102-030405-abcd"},
        ],
        "MinSize": 2,
        "MaxSize": 2,
        "DesiredCapacity": 2,
        **launch,
    }


def test_the_launch_template_is_the_groups_own_or_its_mixed_policys() -> None:
    mixed = {"LaunchTemplate": {"LaunchTemplateSpecification": SPEC}}
    assert launch_template_of(_asg(LaunchTemplate=SPEC)) == SPEC
    assert launch_template_of(_asg(MixedInstancesPolicy=mixed)) == SPEC
    assert launch_template_of(_asg()) == {}


def test_observer_and_engine_read_the_same_group() -> None:
    for asg in (_asg(LaunchTemplate=SPEC), _asg()):
        seen, used = group_of(asg), _group_of(asg)
        assert (seen.release, seen.rollout_id) == (used.release, used.rollout_id)
        assert seen.launch_template_version == used.launch_template_version
        sizes = ("min_size", "max_size", "desired", "health_check_type", "grace_period")
        assert [getattr(seen, f) for f in sizes] == [getattr(used, f) for f in sizes]
        assert used.launch_template == str(launch_template_of(asg).get("LaunchTemplateName", ""))
