"""DetachInstances, EnterStandby and ExitStandby as AWS documents them (API references; "Detach
or attach instances from your Auto Scaling group", "Temporarily remove instances from your Auto
Scaling group"):

- detached: `Detaching` (deregistered, draining) → `Detached` → out of `Instances[]`, still
  running in EC2 and no longer tagged with the group; without decrement a replacement launches;
  with decrement the desired capacity drops, refused below the minimum; only an `InService` or
  `Standby` instance.
- standby: `EnteringStandby` (deregistered, draining) → `Standby`, still listed, not counted
  toward the desired capacity (a replacement launches without decrement), never picked by a
  scale-in; ExitStandby: the desired capacity grows, `Pending` (registered again) → `InService`;
  a force-deleted group ends them with it.

Stock moto 5.2.5 drops a detached instance at once and leaves it registered; puts an instance
`Standby` and back `InService` at once, still registered, without checking states or sizes.

localaws/server/asg_detach.py (AutoScalingResponse.detach_instances / enter_standby /
exit_standby).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
from botocore.exceptions import ClientError
from localaws_helpers import (
    asg_on_new_template,
    health_of,
    healthy_members,
    lifecycle_of,
    state_of,
    user_data_for,
)

from localaws.process import LocalAws


class Serving(NamedTuple):
    """A group of two healthy instances in a target group of its own, and the clients."""

    ec2: Any
    elb: Any
    asg: Any
    tg: str
    name: str
    first: str
    second: str


@pytest.fixture
def serving(
    localaws: LocalAws,
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> Callable[..., Serving]:
    """`serving(min_size=0)`: a new group of two instances of v1, both healthy in its target
    group (AWS's deregistration delay, 300 s: 3 s at the tests' scale)."""

    def make(min_size: int = 0) -> Serving:
        ec2, elb, asg = aws_client("ec2"), aws_client("elbv2"), aws_client("autoscaling")
        tg = target_group()
        name = asg_on_new_template(
            ec2,
            asg,
            "contract-aside",
            user_data=user_data_for("v1"),
            target_groups=(tg,),
            min_size=min_size,
        )
        first, second = eventually(
            lambda: healthy_members(asg, elb, name, tg, 2), what="two healthy instances"
        )
        return Serving(ec2, elb, asg, tg, name, first, second)

    return make


def _group(asg: Any, name: str) -> dict[str, Any]:
    return dict(
        asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    )


def _error(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


def test_a_detached_instance_drains_then_leaves_running_and_is_replaced(
    serving: Callable[..., Serving], eventually: Callable[..., Any]
) -> None:
    ec2, elb, asg, tg, name, first, second = serving()

    answer = asg.detach_instances(
        AutoScalingGroupName=name, InstanceIds=[first], ShouldDecrementDesiredCapacity=False
    )
    (activity,) = answer["Activities"]
    assert activity["Description"] == f"Detaching EC2 instance: {first}"
    assert lifecycle_of(asg, name)[first] == "Detaching"
    assert health_of(elb, tg, [first])[first]["State"] == "draining"
    (listed,) = asg.describe_auto_scaling_instances(InstanceIds=[first])["AutoScalingInstances"]
    assert listed["LifecycleState"] == "Detaching"
    assert _group(asg, name)["DesiredCapacity"] == 2
    # Without decrement the group launches a replacement at once: a new id, counted.
    new = eventually(
        lambda: [i for i in lifecycle_of(asg, name) if i not in (first, second)] or None,
        what="a replacement for the detached instance",
    )
    assert len(new) == 1

    eventually(
        lambda: lifecycle_of(asg, name).get(first) == "Detached", what="detached once drained"
    )
    eventually(lambda: first not in lifecycle_of(asg, name), what="it leaves the group")
    assert state_of(ec2, first) == "running", "a detached instance keeps running"
    reservations = ec2.describe_instances(InstanceIds=[first])["Reservations"]
    tags = {t["Key"] for t in reservations[0]["Instances"][0].get("Tags", [])}
    assert "aws:autoscaling:groupName" not in tags
    assert first not in health_of(elb, tg)
    assert asg.describe_auto_scaling_instances(InstanceIds=[first])["AutoScalingInstances"] == []
    described = [
        a["Description"]
        for a in asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]
    ]
    assert f"Detaching EC2 instance: {first}" in described


def test_a_detach_with_decrement_lowers_the_desired_capacity_within_the_minimum(
    serving: Callable[..., Serving], eventually: Callable[..., Any]
) -> None:
    _, _, asg, _, name, first, second = serving(min_size=1)

    asg.detach_instances(
        AutoScalingGroupName=name, InstanceIds=[first], ShouldDecrementDesiredCapacity=True
    )
    assert _group(asg, name)["DesiredCapacity"] == 1
    assert lifecycle_of(asg, name) == {second: "InService", first: "Detaching"}
    code, message = _error(
        lambda: asg.detach_instances(
            AutoScalingGroupName=name, InstanceIds=[second], ShouldDecrementDesiredCapacity=True
        )
    )
    assert code == "ValidationError"
    assert "min-size=1" in message and "To detach 1 instance" in message
    code, message = _error(
        lambda: asg.detach_instances(
            AutoScalingGroupName=name, InstanceIds=[first], ShouldDecrementDesiredCapacity=False
        )
    )
    assert (code, message) == (
        "ValidationError",
        f"The instance {first} is not part of Auto Scaling group {name}.",
    )
    eventually(lambda: list(lifecycle_of(asg, name)) == [second], what="the detached one leaves")
    assert _group(asg, name)["DesiredCapacity"] == 1  # no replacement


def test_standby_deregisters_and_is_not_counted_and_exit_registers_it_again(
    serving: Callable[..., Serving], eventually: Callable[..., Any]
) -> None:
    ec2, elb, asg, tg, name, first, second = serving()

    answer = asg.enter_standby(
        AutoScalingGroupName=name, InstanceIds=[first], ShouldDecrementDesiredCapacity=True
    )
    assert answer["Activities"][0]["Description"] == f"Moving EC2 instance to Standby: {first}"
    assert lifecycle_of(asg, name) == {second: "InService", first: "EnteringStandby"}
    assert health_of(elb, tg, [first])[first]["State"] == "draining"
    assert _group(asg, name)["DesiredCapacity"] == 1
    eventually(lambda: lifecycle_of(asg, name).get(first) == "Standby", what="on standby")
    eventually(lambda: first not in health_of(elb, tg), what="deregistered once drained")
    assert state_of(ec2, first) == "running"
    # Not counted, not a candidate: a scale-in to 0 takes the serving one, never the standby.
    asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=0)
    assert lifecycle_of(asg, name) == {second: "Terminating", first: "Standby"}
    code, message = _error(
        lambda: asg.enter_standby(
            AutoScalingGroupName=name, InstanceIds=[first], ShouldDecrementDesiredCapacity=True
        )
    )
    assert (code, message) == ("ValidationError", f"The instance {first} is not in InService.")

    answer = asg.exit_standby(AutoScalingGroupName=name, InstanceIds=[first])
    (activity,) = answer["Activities"]
    assert activity["Description"] == f"Moving EC2 instance out of Standby: {first}"
    assert "increasing the capacity from 0 to 1" in activity["Cause"]
    assert lifecycle_of(asg, name)[first] == "Pending"
    assert _group(asg, name)["DesiredCapacity"] == 1
    eventually(lambda: lifecycle_of(asg, name).get(first) == "InService", what="in service")
    eventually(
        lambda: health_of(elb, tg).get(first, {}).get("State") == "healthy",
        what="registered again and healthy",
    )
    code, message = _error(lambda: asg.exit_standby(AutoScalingGroupName=name, InstanceIds=[first]))
    assert (code, message) == ("ValidationError", f"The instance {first} is not in Standby.")


def test_standby_without_decrement_launches_a_replacement_and_exit_is_held_to_the_max(
    serving: Callable[..., Serving], eventually: Callable[..., Any]
) -> None:
    _, _, asg, _, name, first, second = serving()
    asg.update_auto_scaling_group(AutoScalingGroupName=name, MaxSize=2)

    asg.enter_standby(
        AutoScalingGroupName=name, InstanceIds=[first], ShouldDecrementDesiredCapacity=False
    )
    states = lifecycle_of(asg, name)
    (new,) = [i for i in states if i not in (first, second)]
    assert states[first] == "EnteringStandby"
    assert _group(asg, name)["DesiredCapacity"] == 2
    eventually(lambda: lifecycle_of(asg, name).get(first) == "Standby", what="on standby")
    code, message = _error(lambda: asg.exit_standby(AutoScalingGroupName=name, InstanceIds=[first]))
    assert code == "ValidationError" and "max-size=2" in message
    assert lifecycle_of(asg, name)[first] == "Standby"
    # A Standby instance can be detached; it was not counted, so no replacement launches.
    asg.detach_instances(
        AutoScalingGroupName=name, InstanceIds=[first], ShouldDecrementDesiredCapacity=False
    )
    states = lifecycle_of(asg, name)
    assert states[first] in ("Detaching", "Detached")  # deregistered already: nothing to drain
    assert sorted(i for i, s in states.items() if i != first) == sorted([second, new])


def test_a_deleted_group_ends_its_standby_instances_with_it(
    serving: Callable[..., Serving], eventually: Callable[..., Any]
) -> None:
    ec2, _, asg, _, name, first, second = serving()
    asg.enter_standby(
        AutoScalingGroupName=name, InstanceIds=[first], ShouldDecrementDesiredCapacity=True
    )
    code, _ = _error(lambda: asg.delete_auto_scaling_group(AutoScalingGroupName=name))
    assert code == "ResourceInUse"  # a standby instance is still one of the group's
    asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    for instance_id in (first, second):
        eventually(
            lambda i=instance_id: state_of(ec2, i) == "terminated", what=f"{instance_id} ended"
        )
