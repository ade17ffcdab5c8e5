"""An instance an Auto Scaling group takes out is listed `Terminating` while its targets drain,
then leaves the group's `Instances[]`, as AWS documents ("Amazon EC2 Auto Scaling instance
lifecycle",
https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-lifecycle.html, and the
target group's deregistration delay): `InService` → `Terminating` (deregistered, draining) →
`Terminating:Proceed` → terminated → gone, no longer counted toward the desired capacity.
EC2 shows it `running` until `Terminating:Proceed`, tagged with its group's name. Stock moto
drops it from `Instances[]` and terminates it at once (TerminateInstanceInAutoScalingGroup
drops the tag first).

localaws/server/asg_terminating.py (FakeAutoScalingGroup.set_desired_capacity,
AutoScalingBackend.terminate_instance, FakeAutoScalingGroup.instances,
AutoScalingBackend.describe_auto_scaling_instances).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from localaws_helpers import asg_on_new_template, health_of, lifecycle_of, state_of, user_data_for

from localaws.process import LocalAws


def test_a_scaled_in_instance_is_listed_terminating_while_it_drains_then_leaves(
    localaws: LocalAws,
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2, elb, asg = aws_client("ec2"), aws_client("elbv2"), aws_client("autoscaling")
    tg = target_group()  # AWS's deregistration delay, 300 s: 3 s at the tests' scale
    name = asg_on_new_template(
        ec2, asg, "contract-leaving", user_data=user_data_for("v1"), target_groups=(tg,)
    )

    def two_healthy() -> list[str] | None:
        ids = list(lifecycle_of(asg, name))
        health = health_of(elb, tg)
        ok = len(ids) == 2 and all(health.get(i, {}).get("State") == "healthy" for i in ids)
        return ids if ok else None

    both = eventually(two_healthy, what="two healthy instances")
    asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)

    states = lifecycle_of(asg, name)
    assert set(states) == set(both), "the instance taken out is still listed"
    serving = [i for i, s in states.items() if s == "InService"]
    (removed,) = [i for i, s in states.items() if s != "InService"]
    assert states[removed] == "Terminating"
    assert len(serving) == 1
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    assert group["DesiredCapacity"] == 1
    (listed,) = asg.describe_auto_scaling_instances(InstanceIds=[removed])["AutoScalingInstances"]
    assert listed["LifecycleState"] == "Terminating"
    assert health_of(elb, tg, [removed])[removed]["State"] == "draining"
    # EC2 keeps it running while it drains (its app answers in-flight requests).
    assert state_of(ec2, removed) == "running"

    eventually(
        lambda: list(lifecycle_of(asg, name)) == serving, what="the instance leaves the group"
    )
    assert state_of(ec2, removed) == "terminated"
    eventually(lambda: set(health_of(elb, tg)) == set(serving), what="its target gone")
    assert asg.describe_auto_scaling_instances(InstanceIds=[removed])["AutoScalingInstances"] == []


def test_an_instance_terminated_in_its_group_is_listed_terminating_then_leaves(
    localaws: LocalAws,
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2, asg = aws_client("ec2"), aws_client("autoscaling")
    tg = target_group()
    name = asg_on_new_template(
        ec2, asg, "contract-leaving", user_data=user_data_for("v1"), target_groups=(tg,)
    )
    first, second = eventually(lambda: list(lifecycle_of(asg, name)) or None, what="instances")
    eventually(lambda: state_of(ec2, first) == "running", what="the first running")
    asg.terminate_instance_in_auto_scaling_group(
        InstanceId=first, ShouldDecrementDesiredCapacity=True
    )

    states = lifecycle_of(asg, name)
    assert states == {first: "Terminating", second: "InService"}
    # EC2 runs it, tagged as its group's, until its Terminating:Proceed.
    assert state_of(ec2, first) == "running"
    assert _group_tag(ec2, first) == name
    eventually(
        lambda: lifecycle_of(asg, name).get(first) == "Terminating:Proceed",
        what="Terminating:Proceed once drained",
    )
    eventually(lambda: state_of(ec2, first) in ("shutting-down", "terminated"), what="ended")
    eventually(lambda: list(lifecycle_of(asg, name)) == [second], what="the instance leaves")
    assert state_of(ec2, first) == "terminated"


def _group_tag(ec2: Any, instance_id: str) -> str:
    reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    tags = reservations[0]["Instances"][0].get("Tags", [])
    return next((t["Value"] for t in tags if t["Key"] == "aws:autoscaling:groupName"), "")
