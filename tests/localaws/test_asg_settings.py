"""An ASG keeps the settings it was given, as AWS answers them in DescribeAutoScalingGroups
and DescribeLifecycleHooks: warmup, lifetime, termination policies, capacity rebalance,
cooldown and a mixed instances policy through later updates; a hook's metadata, and no
notification target or role it was not given.

And SNS notification configurations, which 5.2.5 does not implement at all.

Patches: AutoScalingResponse.create_auto_scaling_group / update_auto_scaling_group /
put_lifecycle_hook (localaws/server/asg_settings.py; 5.2.5 drops these or makes them up); added:
Put/Describe/DeleteNotificationConfiguration(s).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from localaws_helpers import asg_on_new_template


def _group(asg: Any, name: str) -> dict[str, Any]:
    return dict(
        asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    )


def test_an_update_keeps_what_it_names_and_a_resize_keeps_the_rest(
    aws_client: Callable[..., Any],
) -> None:
    ec2, asg = aws_client("ec2"), aws_client("autoscaling")
    name = asg_on_new_template(ec2, asg, "settings", desired=0)
    asg.update_auto_scaling_group(
        AutoScalingGroupName=name,
        TerminationPolicies=["OldestInstance", "Default"],
        CapacityRebalance=True,
        DefaultInstanceWarmup=120,
        MaxInstanceLifetime=86400,
        DefaultCooldown=30,
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateName": name, "Version": "1"},
                "Overrides": [{"InstanceType": "t3.micro"}, {"InstanceType": "t3a.micro"}],
            },
        },
    )
    asg.update_auto_scaling_group(AutoScalingGroupName=name, MaxSize=5)  # a resize
    got = _group(asg, name)
    assert got["TerminationPolicies"] == ["OldestInstance", "Default"]
    assert got["CapacityRebalance"] is True
    assert (got["DefaultInstanceWarmup"], got["MaxInstanceLifetime"]) == (120, 86400)
    assert got["DefaultCooldown"] == 30
    assert [o["InstanceType"] for o in got["MixedInstancesPolicy"]["LaunchTemplate"]["Overrides"]]
    assert got["MaxSize"] == 5
    asg.update_auto_scaling_group(AutoScalingGroupName=name, CapacityRebalance=False)
    assert _group(asg, name)["CapacityRebalance"] is False


def test_a_new_group_keeps_its_warmup_and_lifetime(aws_client: Callable[..., Any]) -> None:
    ec2, asg = aws_client("ec2"), aws_client("autoscaling")
    model = asg_on_new_template(ec2, asg, "settings-model", desired=0)
    asg.create_auto_scaling_group(
        AutoScalingGroupName=f"{model}-new",
        LaunchTemplate={"LaunchTemplateName": model},
        MinSize=0,
        MaxSize=1,
        DesiredCapacity=0,
        VPCZoneIdentifier=_group(asg, model)["VPCZoneIdentifier"],
        DefaultInstanceWarmup=60,
        MaxInstanceLifetime=90000,
    )
    got = _group(asg, f"{model}-new")
    assert (got["DefaultInstanceWarmup"], got["MaxInstanceLifetime"]) == (60, 90000)


def test_a_new_group_has_the_grace_it_was_given_and_none_by_default(
    aws_client: Callable[..., Any],
) -> None:
    """AWS's API default for HealthCheckGracePeriod is 0 and 0 turns the grace off (the
    console's default of 300 is the console's); 5.2.5 turns 0 and none into 300."""
    ec2, asg = aws_client("ec2"), aws_client("autoscaling")
    model = asg_on_new_template(ec2, asg, "grace-model", desired=0)
    subnets = _group(asg, model)["VPCZoneIdentifier"]
    for suffix, given in (
        ("none", {}),
        ("zero", {"HealthCheckGracePeriod": 0}),
        ("sixty", {"HealthCheckGracePeriod": 60}),
    ):
        asg.create_auto_scaling_group(
            AutoScalingGroupName=f"{model}-{suffix}",
            LaunchTemplate={"LaunchTemplateName": model},
            MinSize=0,
            MaxSize=1,
            VPCZoneIdentifier=subnets,
            **given,
        )
    graces = {
        s: _group(asg, f"{model}-{s}")["HealthCheckGracePeriod"] for s in ("none", "zero", "sixty")
    }
    assert graces == {"none": 0, "zero": 0, "sixty": 60}


def test_a_hook_keeps_its_metadata_and_names_only_what_it_was_given(
    aws_client: Callable[..., Any],
) -> None:
    ec2, asg = aws_client("ec2"), aws_client("autoscaling")
    name = asg_on_new_template(ec2, asg, "settings-hook", desired=0)
    asg.put_lifecycle_hook(
        AutoScalingGroupName=name,
        LifecycleHookName="drain",
        LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
        NotificationMetadata="ship logs",
    )
    (hook,) = asg.describe_lifecycle_hooks(AutoScalingGroupName=name)["LifecycleHooks"]
    assert hook["NotificationMetadata"] == "ship logs"
    assert "NotificationTargetARN" not in hook and "RoleARN" not in hook


def test_notification_configurations_are_kept_per_topic_and_replaced_by_a_put(
    aws_client: Callable[..., Any],
) -> None:
    ec2, asg = aws_client("ec2"), aws_client("autoscaling")
    name = asg_on_new_template(ec2, asg, "settings-sns", desired=0)
    topic = "arn:aws:sns:us-east-1:123456789012:ops"
    launches = ["autoscaling:EC2_INSTANCE_LAUNCH", "autoscaling:EC2_INSTANCE_LAUNCH_ERROR"]
    asg.put_notification_configuration(
        AutoScalingGroupName=name, TopicARN=topic, NotificationTypes=launches
    )

    def described() -> list[tuple[str, str]]:
        got = asg.describe_notification_configurations(AutoScalingGroupNames=[name])
        return [(c["TopicARN"], c["NotificationType"]) for c in got["NotificationConfigurations"]]

    assert described() == [(topic, t) for t in launches]
    asg.put_notification_configuration(
        AutoScalingGroupName=name,
        TopicARN=topic,
        NotificationTypes=["autoscaling:EC2_INSTANCE_TERMINATE"],
    )
    assert described() == [(topic, "autoscaling:EC2_INSTANCE_TERMINATE")]
    asg.delete_notification_configuration(AutoScalingGroupName=name, TopicARN=topic)
    assert described() == []
    with pytest.raises(ClientError) as refused:
        asg.put_notification_configuration(
            AutoScalingGroupName=f"{name}-none", TopicARN=topic, NotificationTypes=launches
        )
    assert refused.value.response["Error"]["Code"] == "ValidationError"
