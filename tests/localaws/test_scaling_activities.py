"""DescribeScalingActivities lists every launch and termination, and a launch that fails is a
`Failed` activity with EC2's reason, retried with backoff ("Troubleshoot Amazon EC2 Auto
Scaling: EC2 instance launch failures"; the DescribeScalingActivities API reference).

Patches: FakeAutoScalingGroup.replace_autoscaling_group_instances (a release's injected
`launch_failure`, and a Successful activity per launch), AutoScalingResponse
.describe_scaling_activities (5.2.5 lists none), Instance.terminate (the termination).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from localaws_helpers import asg_on_new_template, user_data_for

from localaws.process import LocalAws


def _group_on(ec2: Any, asg: Any, version: str, simulate: dict[str, object] | None) -> str:
    return asg_on_new_template(ec2, asg, "contract-act", user_data=user_data_for(version, simulate))


def _activities(asg: Any, name: str) -> list[dict[str, Any]]:
    return list(asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"])


def test_every_launch_and_termination_is_an_activity_newest_first(
    localaws: LocalAws, aws_client: Callable[..., Any], eventually: Callable[..., Any]
) -> None:
    ec2, asg = aws_client("ec2"), aws_client("autoscaling")
    name = _group_on(ec2, asg, "v1", None)
    launches = _activities(asg, name)
    assert len(launches) == 2
    assert all(a["StatusCode"] == "Successful" for a in launches)
    assert all(a["Description"].startswith("Launching a new EC2 instance: i-") for a in launches)
    assert "increasing the capacity from 0 to 2" in launches[0]["Cause"]

    asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
    newest = _activities(asg, name)[0]
    assert newest["Description"].startswith("Terminating EC2 instance: i-"), newest
    # Another group's activities are not this group's.
    assert all(a["AutoScalingGroupName"] == name for a in _activities(asg, name))


def test_an_injected_launch_failure_is_a_failed_activity_with_aws_words_retried(
    localaws: LocalAws, aws_client: Callable[..., Any], eventually: Callable[..., Any]
) -> None:
    ec2, asg = aws_client("ec2"), aws_client("autoscaling")
    name = _group_on(ec2, asg, "v2", {"launch_failure": "InsufficientInstanceCapacity"})
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    assert group["AutoScalingGroups"][0]["Instances"] == []
    (first, *_) = _activities(asg, name)
    assert first["StatusCode"] == "Failed"
    assert first["StatusMessage"].startswith(
        "We currently do not have sufficient t3.micro capacity in the Availability Zone"
    )
    assert first["StatusMessage"].endswith("Launching EC2 instance failed.")
    assert first["Description"].startswith("Launching a new EC2 instance. Status Reason: ")
    # The group keeps trying, with backoff (10 AWS seconds first: 0.1 s at the tests' scale).
    eventually(
        lambda: sum(a["StatusCode"] == "Failed" for a in _activities(asg, name)) >= 3,
        within=30,
        what="the group's retries",
    )
    asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
