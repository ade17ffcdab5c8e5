"""Deleting an Auto Scaling group takes time, as AWS documents (DeleteAutoScalingGroup: "The
group is deleted after its instances are terminated"; DescribeAutoScalingGroups' `Status`:
"Delete in progress" while it is deleted).

Patches: AutoScalingResponse.delete_auto_scaling_group (stock moto deletes at once and ignores
ForceDelete), .update_auto_scaling_group and .set_desired_capacity (a group pending delete may
not be modified). The group waits for an instance a terminating lifecycle hook holds
(localaws/server/asg_terminating.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from localaws_helpers import asg_on_new_template, complete_action, health_of, put_hook, state_of

from localaws.process import LocalAws
from localaws.server.asg_deletion import TERMINATE_SECONDS
from localaws.testing import TEST_TIME_SCALE


def _group(asg: Any, name: str) -> dict[str, Any] | None:
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return groups[0] if groups else None


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_a_deleted_group_stays_listed_delete_in_progress_until_its_instances_drain(
    localaws: LocalAws,
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2, elb, asg = aws_client("ec2"), aws_client("elbv2"), aws_client("autoscaling")
    tg = target_group()
    # A delay long enough to see the drain (1,000 AWS seconds: 10 s at the tests' scale).
    elb.modify_target_group_attributes(
        TargetGroupArn=tg,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "1000"}],
    )
    name = asg_on_new_template(
        ec2, asg, "contract-del", target_groups=(tg,), min_size=2, max_size=2, desired=2
    )
    eventually(
        lambda: (
            len((_group(asg, name) or {}).get("Instances", [])) == 2
            and len(health_of(elb, tg)) == 2
        ),
        what="two instances registered",
    )

    # Without ForceDelete, a group with instances is refused.
    with pytest.raises(ClientError) as refused:
        asg.delete_auto_scaling_group(AutoScalingGroupName=name)
    assert _code(refused) == "ResourceInUse"

    asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    listed = _group(asg, name)
    assert listed is not None and listed["Status"] == "Delete in progress"

    with pytest.raises(ClientError) as modified:
        asg.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=0)
    assert _code(modified) == "ValidationError"
    assert "pending delete" in str(modified.value)
    with pytest.raises(ClientError) as resized:
        asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
    assert _code(resized) == "ValidationError"
    with pytest.raises(ClientError) as again:
        asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    assert _code(again) == "ScalingActivityInProgress"

    # Its targets drain while it is listed; then it is gone.
    states = {t["State"] for t in health_of(elb, tg).values()}
    assert states == {"draining"}, states
    eventually(lambda: _group(asg, name) is None, within=60, what="the group gone")


def test_a_deleted_group_waits_for_an_instance_a_terminating_hook_holds(
    localaws: LocalAws,
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2, asg = aws_client("ec2"), aws_client("autoscaling")
    name = asg_on_new_template(ec2, asg, "contract-delhook", desired=1)
    (only,) = eventually(lambda: (_group(asg, name) or {}).get("Instances"), what="an instance")
    # HeartbeatTimeout 3600 (36 s here): longer than the test waits.
    put_hook(asg, name, "ship-logs", "TERMINATING", timeout=3600, default="CONTINUE")
    asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)

    # Held in Terminating:Wait, the instance keeps the group Delete in progress: well past
    # the 30 AWS seconds (0.3 s) a deletion takes without it.
    eventually(
        lambda: (
            [i["LifecycleState"] for i in (_group(asg, name) or {})["Instances"]]
            == ["Terminating:Wait"]
        ),
        what="the instance held by the hook",
    )
    until = time.monotonic() + 10 * TERMINATE_SECONDS * TEST_TIME_SCALE
    while time.monotonic() < until:
        listed = _group(asg, name)
        assert listed is not None and listed["Status"] == "Delete in progress"
        assert state_of(ec2, only["InstanceId"]) in ("pending", "running")  # not ended yet
        time.sleep(0.05)

    complete_action(asg, name, "ship-logs", only["InstanceId"], "CONTINUE")
    eventually(lambda: _group(asg, name) is None, what="the group gone once its instance ended")
    assert state_of(ec2, only["InstanceId"]) == "terminated"
