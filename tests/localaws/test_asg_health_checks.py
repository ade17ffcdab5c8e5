"""An Auto Scaling group replaces the instances its health checks find unhealthy, as AWS
documents ("Health checks for instances in an Auto Scaling group",
https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-health-checks.html;
"Set the health check grace period for an Auto Scaling group",
https://docs.aws.amazon.com/autoscaling/ec2/userguide/health-check-grace-period.html): with
`HealthCheckType=ELB`, an instance whose target any of the group's target groups calls
`unhealthy` once `HealthCheckGracePeriod` has passed since it came into service is marked
Unhealthy, terminated and replaced by a new instance, each a scaling activity; with `EC2`,
only an instance EC2 shows stopped or terminated is. The one taken out drains first, EC2
running it until its `Terminating:Proceed`. Stock moto never replaces an instance.

localaws/server/asg_health.py (a thread beside moto's), LocalCloud.mark_running (the grace's start).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from localaws_helpers import asg_on_new_template, health_of, lifecycle_of, state_of, user_data_for

from localaws.process import LocalAws
from localaws.testing import TEST_TIME_SCALE

GRACE = 300  # AWS seconds: 3 s at the tests' scale


def _members(asg: Any, name: str) -> list[str]:
    return list(lifecycle_of(asg, name))


def _group(ec2: Any, asg: Any, prefix: str, check_type: str, tgs: tuple[str, ...]) -> str:
    name = asg_on_new_template(
        ec2, asg, prefix, user_data=user_data_for("v1"), target_groups=tgs, desired=1
    )
    asg.update_auto_scaling_group(
        AutoScalingGroupName=name, HealthCheckType=check_type, HealthCheckGracePeriod=GRACE
    )
    return name


def _activities(asg: Any, name: str) -> list[dict[str, Any]]:
    return list(asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"])


def test_an_elb_checked_group_replaces_an_instance_unhealthy_in_any_target_group_after_grace(
    localaws: LocalAws,
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2, elb, asg = aws_client("ec2"), aws_client("elbv2"), aws_client("autoscaling")
    good = target_group()
    bad = target_group(Matcher={"HttpCode": "404"})  # the app answers 200: never healthy here
    name = _group(ec2, asg, "contract-elbhc", "ELB", (good, bad))
    started = time.monotonic()
    (first,) = eventually(lambda: _members(asg, name), what="the first instance")
    eventually(
        lambda: (
            health_of(elb, good).get(first, {}).get("State") == "healthy"
            and health_of(elb, bad).get(first, {}).get("State") == "unhealthy"
        ),
        what="healthy in one group, unhealthy in the other",
    )
    # Unhealthy, but within its grace period: kept.
    while time.monotonic() - started < GRACE * TEST_TIME_SCALE * 0.8:
        assert _members(asg, name) == [first]
        time.sleep(0.1)

    (second,) = eventually(
        lambda: [i for i in _members(asg, name) if i != first], within=30, what="a replacement"
    )
    assert time.monotonic() - started >= GRACE * TEST_TIME_SCALE
    # Taken out, it drains first (300 AWS seconds: 3 s), EC2 running it meanwhile.
    assert lifecycle_of(asg, name)[first] == "Terminating"
    assert state_of(ec2, first) == "running"
    eventually(lambda: state_of(ec2, first) == "terminated", what="the unhealthy one ended")
    activities = _activities(asg, name)
    ended = next(a for a in activities if a["Description"] == f"Terminating EC2 instance: {first}")
    assert ended["Cause"].endswith(
        "an instance was taken out of service in response to an ELB system health check failure."
    ), ended
    launched = [a["Description"] for a in activities]
    assert f"Launching a new EC2 instance: {second}" in launched
    # Newest first: the replacement's launch, then the termination, then the first launch.
    assert launched.index(f"Launching a new EC2 instance: {second}") < launched.index(
        f"Terminating EC2 instance: {first}"
    )


def test_an_ec2_checked_group_keeps_an_unhealthy_target_and_replaces_a_terminated_instance(
    localaws: LocalAws,
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2, elb, asg = aws_client("ec2"), aws_client("elbv2"), aws_client("autoscaling")
    bad = target_group(Matcher={"HttpCode": "404"})
    name = _group(ec2, asg, "contract-ec2hc", "EC2", (bad,))
    started = time.monotonic()
    (first,) = eventually(lambda: _members(asg, name), what="the first instance")
    eventually(
        lambda: health_of(elb, bad).get(first, {}).get("State") == "unhealthy",
        what="its target unhealthy",
    )
    # Past its grace period with an unhealthy target: EC2 checks do not look at targets.
    while time.monotonic() - started < GRACE * TEST_TIME_SCALE * 1.5:
        assert _members(asg, name) == [first]
        time.sleep(0.1)

    ec2.terminate_instances(InstanceIds=[first])
    (second,) = eventually(
        lambda: [i for i in _members(asg, name) if i != first], what="a replacement"
    )
    ended = next(
        a
        for a in _activities(asg, name)
        if a["Description"] == f"Terminating EC2 instance: {first}"
    )
    assert ended["Cause"].endswith(
        "in response to an EC2 health check indicating it has been terminated or stopped."
    ), ended
    assert second != first


def test_a_group_with_replace_unhealthy_suspended_marks_but_keeps_the_instance(
    localaws: LocalAws,
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2, asg = aws_client("ec2"), aws_client("autoscaling")
    name = _group(ec2, asg, "contract-suspended", "EC2", ())
    asg.suspend_processes(AutoScalingGroupName=name, ScalingProcesses=["ReplaceUnhealthy"])
    (first,) = eventually(lambda: _members(asg, name), what="the first instance")
    ec2.stop_instances(InstanceIds=[first])

    def health() -> str:
        groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        return str(groups["AutoScalingGroups"][0]["Instances"][0]["HealthStatus"])

    eventually(lambda: health() == "Unhealthy", what="marked Unhealthy")
    assert _members(asg, name) == [first]
    asg.resume_processes(AutoScalingGroupName=name, ScalingProcesses=["ReplaceUnhealthy"])
    eventually(lambda: _members(asg, name) not in ([], [first]), what="a replacement")
    eventually(lambda: state_of(ec2, first) == "terminated", what="the stopped one ended")
