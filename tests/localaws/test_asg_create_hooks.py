"""A lifecycle hook given in CreateAutoScalingGroup's `LifecycleHookSpecificationList` exists
from the group's creation, as AWS documents (CreateAutoScalingGroup, LifecycleHookSpecification
API references): DescribeLifecycleHooks lists it with the fields it was given and AWS's
defaults (`HeartbeatTimeout` 3600, `DefaultResult` ABANDON, `GlobalTimeout` 100 times the
heartbeat, at most 48 hours), and a launch hook holds the group's very first instances in
`Pending:Wait`. Stock moto 5.2.5 drops the list: no hook, every first instance `InService`.

localaws/server/asg_settings.py (AutoScalingResponse.create_auto_scaling_group).
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from localaws_helpers import health_of, lifecycle_of, state_of, user_data_for

from localaws.process import LocalAws
from localaws.testing import TEST_TIME_SCALE

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"


def _create(ec2: Any, asg: Any, hooks: list[dict[str, Any]], tgs: tuple[str, ...] = ()) -> str:
    """A new group of 2 on a new launch template of freshfleet's v1, created with `hooks`."""
    name = f"create-hooks-{uuid.uuid4().hex[:8]}"
    data = {
        "ImageId": "ami-03cf127a",
        "InstanceType": "t3.micro",
        "UserData": base64.b64encode(user_data_for("v1").encode()).decode(),
    }
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data)
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name},
        MinSize=0,
        MaxSize=4,
        DesiredCapacity=2,
        VPCZoneIdentifier=ec2.describe_subnets()["Subnets"][0]["SubnetId"],
        TargetGroupARNs=list(tgs),
        LifecycleHookSpecificationList=hooks,
    )
    return name


def test_hooks_given_at_creation_are_described_with_their_fields_and_aws_defaults(
    aws_client: Callable[..., Any],
) -> None:
    ec2, asg = aws_client("ec2"), aws_client("autoscaling")
    name = _create(
        ec2,
        asg,
        [
            {
                "LifecycleHookName": "drain",
                "LifecycleTransition": TERMINATING,
                "HeartbeatTimeout": 120,
                "DefaultResult": "CONTINUE",
                "NotificationMetadata": "drain-me",
            },
            {"LifecycleHookName": "warm", "LifecycleTransition": LAUNCHING},
        ],
    )
    hooks = asg.describe_lifecycle_hooks(AutoScalingGroupName=name)["LifecycleHooks"]
    found = {h["LifecycleHookName"]: h for h in hooks}
    assert set(found) == {"drain", "warm"}
    drain, warm = found["drain"], found["warm"]
    assert drain["AutoScalingGroupName"] == name
    assert drain["LifecycleTransition"] == TERMINATING
    assert (drain["HeartbeatTimeout"], drain["DefaultResult"]) == (120, "CONTINUE")
    assert drain["GlobalTimeout"] == 12000  # 100 times its heartbeat timeout
    assert drain["NotificationMetadata"] == "drain-me"
    assert warm["LifecycleTransition"] == LAUNCHING
    assert (warm["HeartbeatTimeout"], warm["DefaultResult"]) == (3600, "ABANDON")
    assert warm["GlobalTimeout"] == 172800  # 100 × 3600 s is past the 48 hours
    for hook in (drain, warm):  # given none, AWS describes none
        assert "RoleARN" not in hook and "NotificationTargetARN" not in hook
    assert "NotificationMetadata" not in warm


def test_a_launch_hook_given_at_creation_holds_the_groups_first_instances(
    localaws: LocalAws,
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2, elb, asg = aws_client("ec2"), aws_client("elbv2"), aws_client("autoscaling")
    tg = target_group()
    hook = {"LifecycleHookName": "warm", "LifecycleTransition": LAUNCHING}
    name = _create(ec2, asg, [hook], (tg,))
    first = lifecycle_of(asg, name)
    assert list(first.values()) == ["Pending:Wait", "Pending:Wait"], "held from the start"
    one, two = first
    eventually(lambda: state_of(ec2, one) == "running", what="EC2 runs the first instance")
    until = time.monotonic() + 10 * 5 * TEST_TIME_SCALE  # ten ELB health-check intervals
    while time.monotonic() < until:
        assert lifecycle_of(asg, name) == first
        assert not set(first) & set(health_of(elb, tg)), "registered while waiting"
        time.sleep(0.05)  # a poll of the group's state, not a wait on one

    asg.complete_lifecycle_action(
        AutoScalingGroupName=name,
        LifecycleHookName="warm",
        InstanceId=one,
        LifecycleActionResult="CONTINUE",
    )
    assert lifecycle_of(asg, name) == {one: "InService", two: "Pending:Wait"}
    eventually(
        lambda: health_of(elb, tg).get(one, {}).get("State") == "healthy",
        what="registered and healthy once its launch goes on",
    )
    assert two not in health_of(elb, tg)


def test_a_refused_create_leaves_none_of_its_hooks(aws_client: Callable[..., Any]) -> None:
    asg = aws_client("autoscaling")
    name = f"create-hooks-refused-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError):  # no launch template, configuration nor instance
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name,
            MinSize=0,
            MaxSize=1,
            AvailabilityZones=["us-east-1a"],
            LifecycleHookSpecificationList=[
                {"LifecycleHookName": "warm", "LifecycleTransition": LAUNCHING}
            ],
        )
    assert asg.describe_lifecycle_hooks(AutoScalingGroupName=name)["LifecycleHooks"] == []
