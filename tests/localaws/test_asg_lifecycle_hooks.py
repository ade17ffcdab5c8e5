"""A launch lifecycle hook holds each new instance of its group in `Pending:Wait`, as AWS
documents ("How lifecycle hooks work in Amazon EC2 Auto Scaling groups",
https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html;
CompleteLifecycleAction, RecordLifecycleActionHeartbeat API references): not registered with
the group's target groups until CompleteLifecycleAction `CONTINUE` carries it `InService`;
`ABANDON`, or a `HeartbeatTimeout` passing with `DefaultResult` `ABANDON`, terminates it and
the group launches a replacement; a heartbeat restarts the timeout. A terminating hook
(`autoscaling:EC2_INSTANCE_TERMINATING`) holds an instance the group takes out in
`Terminating:Wait` once its targets have drained (deregistration first, then the wait, as the
same page orders them), EC2 still running it, until every hook's action ends: CONTINUE and
ABANDON both let it terminate (`Terminating:Proceed`), ABANDON ending the other hooks' actions
("Add lifecycle hooks", DefaultResult). Stock moto 5.2.5 puts every instance `InService` at
once, drops a leaving one at once, and lacks both calls.

localaws/server/lifecycle_hooks.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from localaws_helpers import (
    asg_on_new_template,
    complete_action,
    health_of,
    lifecycle_of,
    put_hook,
    state_of,
    user_data_for,
)

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
    put_hook(asg, name, HOOK, "LAUNCHING", timeout=timeout, default=default)
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

    complete_action(asg, name, HOOK, first, "CONTINUE")
    assert lifecycle_of(asg, name) == {first: "InService"}
    eventually(
        lambda: health_of(elb, tg).get(first, {}).get("State") == "healthy",
        what="registered and healthy once in service",
    )
    # Its action is over: a second completion finds none.
    with pytest.raises(ClientError) as caught:
        complete_action(asg, name, HOOK, first, "CONTINUE")
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

    complete_action(asg, name, HOOK, first, "ABANDON")
    assert first not in lifecycle_of(asg, name)
    eventually(lambda: state_of(ec2, first) == "terminated", what="the abandoned one ended")
    eventually(lambda: [i for i in lifecycle_of(asg, name) if i != first], what="a replacement")


# -- terminating hooks ------------------------------------------------------------------------

TERMINATING_HOOK = "ship-logs"


def _quick_drain(elb: Any, tg: str) -> None:
    """A deregistration delay of 30 AWS seconds: 0.3 s at the tests' scale."""
    elb.modify_target_group_attributes(
        TargetGroupArn=tg,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}],
    )


def test_a_terminating_hook_holds_a_drained_instance_running_until_continue(
    localaws: LocalAws,
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2, elb, asg = aws_client("ec2"), aws_client("elbv2"), aws_client("autoscaling")
    tg = target_group()
    _quick_drain(elb, tg)
    name = asg_on_new_template(
        ec2, asg, "contract-termhook", user_data=user_data_for("v1"), target_groups=(tg,)
    )
    put_hook(asg, name, TERMINATING_HOOK, "TERMINATING", timeout=3600, default="ABANDON")
    ids = eventually(lambda: list(lifecycle_of(asg, name)) or None, what="instances")
    eventually(
        lambda: all(health_of(elb, tg).get(i, {}).get("State") == "healthy" for i in ids),
        what="both healthy",
    )
    asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
    (removed,) = [i for i, s in lifecycle_of(asg, name).items() if s == "Terminating"]

    # Deregistered and drained first (AWS's order), then the hook holds it; EC2 runs it.
    assert health_of(elb, tg, [removed])[removed]["State"] == "draining"
    eventually(
        lambda: lifecycle_of(asg, name).get(removed) == "Terminating:Wait",
        what="Terminating:Wait once drained",
    )
    eventually(lambda: removed not in health_of(elb, tg), what="its target gone")
    until = time.monotonic() + 10 * 30 * TEST_TIME_SCALE  # ten of its drains
    while time.monotonic() < until:
        assert lifecycle_of(asg, name).get(removed) == "Terminating:Wait"
        assert state_of(ec2, removed) == "running"
        time.sleep(0.05)
    (listed,) = asg.describe_auto_scaling_instances(InstanceIds=[removed])["AutoScalingInstances"]
    assert listed["LifecycleState"] == "Terminating:Wait"
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    assert group["DesiredCapacity"] == 1 and len(group["Instances"]) == 2  # it counts no more

    complete_action(asg, name, TERMINATING_HOOK, removed, "CONTINUE")
    assert lifecycle_of(asg, name).get(removed) == "Terminating:Proceed"
    eventually(lambda: state_of(ec2, removed) == "terminated", what="EC2 ends it at Proceed")
    eventually(lambda: removed not in lifecycle_of(asg, name), what="it leaves the group")
    with pytest.raises(ClientError) as caught:  # its action is over
        asg.record_lifecycle_action_heartbeat(
            AutoScalingGroupName=name, LifecycleHookName=TERMINATING_HOOK, InstanceId=removed
        )
    assert caught.value.response["Error"]["Code"] == "ValidationError"


def test_terminating_hooks_continue_waits_for_the_others_abandon_ends_all_and_a_timeout_proceeds(
    localaws: LocalAws,
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2, asg = aws_client("ec2"), aws_client("autoscaling")
    name = asg_on_new_template(ec2, asg, "contract-termhooks", desired=2)
    first, second = eventually(lambda: list(lifecycle_of(asg, name)) or None, what="instances")
    eventually(
        lambda: all(state_of(ec2, i) == "running" for i in (first, second)), what="both running"
    )
    put_hook(asg, name, "a-hook", "TERMINATING", timeout=3600, default="CONTINUE")
    put_hook(asg, name, "b-hook", "TERMINATING", timeout=3600, default="CONTINUE")
    asg.terminate_instance_in_auto_scaling_group(
        InstanceId=first, ShouldDecrementDesiredCapacity=True
    )
    eventually(lambda: lifecycle_of(asg, name).get(first) == "Terminating:Wait", what="waits")

    # CONTINUE from one hook: the other still holds it.
    complete_action(asg, name, "a-hook", first, "CONTINUE")
    assert lifecycle_of(asg, name).get(first) == "Terminating:Wait"
    assert state_of(ec2, first) == "running"
    # ABANDON from the other: a terminating instance terminates all the same.
    complete_action(asg, name, "b-hook", first, "ABANDON")
    assert lifecycle_of(asg, name).get(first) == "Terminating:Proceed"
    eventually(lambda: first not in lifecycle_of(asg, name), what="the first leaves")
    assert state_of(ec2, first) == "terminated"
    assert list(lifecycle_of(asg, name)) == [second]  # decremented: no replacement

    # A hook nobody completes: after its HeartbeatTimeout (30 AWS seconds: 0.3 s) the
    # instance proceeds, its DefaultResult ABANDON letting it terminate too.
    asg.delete_lifecycle_hook(AutoScalingGroupName=name, LifecycleHookName="b-hook")
    put_hook(asg, name, "a-hook", "TERMINATING", timeout=30, default="ABANDON")
    asg.terminate_instance_in_auto_scaling_group(
        InstanceId=second, ShouldDecrementDesiredCapacity=True
    )
    eventually(lambda: state_of(ec2, second) == "terminated", what="timed out, then ended")
    eventually(lambda: lifecycle_of(asg, name) == {}, what="the group empty")
