"""The observer and the rollout engine read an ASG as one ServerGroup."""

from __future__ import annotations

from typing import Any

from rollout.fleet.records import group_of, launch_template_of
from rollout.model import TAG_APP, TAG_RELEASE, TAG_ROLLOUT, Capacity, ServerGroup

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


def test_one_group_carries_what_the_observer_and_the_rollout_read() -> None:
    for asg in (_asg(LaunchTemplate=SPEC, VPCZoneIdentifier="subnet-a,subnet-b"), _asg()):
        group = group_of(asg)
        lt = launch_template_of(asg)
        assert (group.app, group.release, group.rollout_id) == ("web", "v2", "20260102-030405-abcd")
        assert group.launch_template_id == str(lt.get("LaunchTemplateId", ""))
        assert group.launch_template == str(lt.get("LaunchTemplateName", ""))
        assert group.launch_template_version == str(lt.get("Version", ""))
        assert group.subnets == str(asg.get("VPCZoneIdentifier", ""))
        assert group.capacity == Capacity(2, 2, 2)
        # The ledger's record of it reads back as the same group, less what AWS alone knows.
        again = ServerGroup.from_item(group.as_item())
        assert again.as_item() == group.as_item()
        assert "app" not in group.as_item() and "instance_ids" not in group.as_item()
