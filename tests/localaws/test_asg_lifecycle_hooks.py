"""A launch lifecycle hook holds each new instance of its group in `Pending:Wait`, as AWS
documents ("How lifecycle hooks work in Amazon EC2 Auto Scaling groups",
https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html;
CompleteLifecycleAction, RecordLifecycleActionHeartbeat API references): not registered with
the group's target groups until CompleteLifecycleAction `CONTINUE` carries it `InService`;
`ABANDON`, or a `HeartbeatTimeout` passing with `DefaultResult` `ABANDON`, terminates it and
the group launches a replacement; a heartbeat restarts the timeout. Stock moto 5.2.5 puts
every instance `InService` at once and lacks both calls.

localaws/server/lifecycle_hooks.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from localaws_helpers import asg_on_new_template, health_of, lifecycle_of, state_of, user_data_for

from localaws.process import LocalAws
from localaws.testing import TEST_TIME_SCALE

HOOK = "warm-caches"


def _hooked_group(
    ec2: Any, asg: Any, prefix: str, tgs: tuple[str, ...], timeout: int, default: str
) -> str:
    """A group with a launch hook put before its first launch, then sized to one."""
    name = asg_on_new_template(
        ec2, asg, prefix, user_data=user_data_for("v1"), target_groups=tgs, desired=0
    )
    asg.put_lifecycle_hook(
        AutoScalingGroupName=name,
        LifecycleHookName=HOOK,
        LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING",
        HeartbeatTimeout=timeout,
        DefaultResult=default,
    )
    asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
    return name


def test_a_launch_hook_holds_the_instance_unregistered_until_continue(
    localaws: LocalAws,
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2, elb, asg = aws_client("ec2"), aws_client("elbv2"), aws_client("autoscaling")
    tg = target_group()
    name = _hooked_group(ec2, asg, "contract-hook", (tg,), timeout=3600, default="ABANDON")
    (first,) = eventually(lambda: lifecycle_of(asg, name), what="the first instance")
    assert lifecycle_of(asg, name) == {first: "Pending:Wait"}
    # EC2 runs it; the group still waits on the hook, and no target group has it.
    eventually(lambda: state_of(ec2, first) == "running", what="the instance running")
    until = time.monotonic() + 10 * 5 * TEST_TIME_SCALE  # ten ELB health-check intervals
    while time.monotonic() < until:
        assert lifecycle_of(asg, name) == {first: "Pending:Wait"}
        assert first not in health_of(elb, tg)
        time.sleep(0.05)
    # Waiting counts toward the desired capacity: asked again, the group launches no other.
    asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
    assert lifecycle_of(asg, name) == {first: "Pending:Wait"}

    asg.complete_lifecycle_action(
        AutoScalingGroupName=name,
        LifecycleHookName=HOOK,
        InstanceId=first,
        LifecycleActionResult="CONTINUE",
    )
    assert lifecycle_of(asg, name) == {first: "InService"}
    eventually(
        lambda: health_of(elb, tg).get(first, {}).get("State") == "healthy",
        what="registered and healthy once in service",
    )
    # Its action is over: a second completion finds none.
    with pytest.raises(ClientError) as caught:
        asg.complete_lifecycle_action(
            AutoScalingGroupName=name,
            LifecycleHookName=HOOK,
            InstanceId=first,
            LifecycleActionResult="CONTINUE",
        )
    assert caught.value.response["Error"]["Code"] == "ValidationError"


def test_a_launch_hook_timing_out_with_abandon_ends_the_instance_and_a_new_one_launches(
    localaws: LocalAws,
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2, elb, asg = aws_client("ec2"), aws_client("elbv2"), aws_client("autoscaling")
    tg = target_group()
    # 30 AWS seconds (AWS's least): 0.3 s at the tests' scale.
    name = _hooked_group(ec2, asg, "contract-abandon", (tg,), timeout=30, default="ABANDON")
    (first,) = eventually(lambda: lifecycle_of(asg, name), what="the first instance")
    second = eventually(
        lambda: next((i for i in lifecycle_of(asg, name) if i != first), None),
        what="a replacement for the abandoned instance",
    )
    assert first not in lifecycle_of(asg, name)
    eventually(lambda: state_of(ec2, first) == "terminated", what="the abandoned one ended")
    assert first not in health_of(elb, tg)
    activities = asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]
    described = [a["Description"] for a in activities]
    assert f"Terminating EC2 instance: {first}" in described
    assert f"Launching a new EC2 instance: {second}" in described


def test_a_heartbeat_restarts_the_timeout_and_abandon_ends_it_at_once(
    localaws: LocalAws,
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2, asg = aws_client("ec2"), aws_client("autoscaling")
    # 100 AWS seconds: 1 s here; heartbeats every 0.4 s keep it waiting for 2.5 s.
    name = _hooked_group(ec2, asg, "contract-heartbeat", (), timeout=100, default="CONTINUE")
    (first,) = eventually(lambda: lifecycle_of(asg, name), what="the first instance")
    until = time.monotonic() + 250 * TEST_TIME_SCALE
    beat_at = time.monotonic()  # the next heartbeat: every 40 AWS seconds
    while (now := time.monotonic()) < until:
        if now >= beat_at:
            asg.record_lifecycle_action_heartbeat(
                AutoScalingGroupName=name, LifecycleHookName=HOOK, InstanceId=first
            )
            beat_at = now + 40 * TEST_TIME_SCALE
        assert lifecycle_of(asg, name) == {first: "Pending:Wait"}
        time.sleep(0.05)  # a poll of the group's state, not a wait on one

    asg.complete_lifecycle_action(
        AutoScalingGroupName=name,
        LifecycleHookName=HOOK,
        InstanceId=first,
        LifecycleActionResult="ABANDON",
    )
    assert first not in lifecycle_of(asg, name)
    eventually(lambda: state_of(ec2, first) == "terminated", what="the abandoned one ended")
    eventually(lambda: [i for i in lifecycle_of(asg, name) if i != first], what="a replacement")
