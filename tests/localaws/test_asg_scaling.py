"""An ASG launching from a launch-template version boots its instances and scales both ways.

Patches: LaunchTemplate.create_version (5.2.5 stored version UserData as str, breaking
ASGs), InstanceBackend.run_instances via the ASG, Instance.terminate on scale-in, and the
target health of instances that leave (moto leaves them registered).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Any

from localaws_helpers import console_of, health_of, state_of, user_data_for

from localaws.process import LocalAws


def test_an_asg_scales_out_and_in_with_target_health_following(
    localaws: LocalAws,
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2, elb, asg = aws_client("ec2"), aws_client("elbv2"), aws_client("autoscaling")
    name = f"contract-asg-{uuid.uuid4().hex[:8]}"
    ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={"ImageId": "ami-03cf127a", "InstanceType": "t3.micro"},
    )
    version = ec2.create_launch_template_version(
        LaunchTemplateName=name,
        SourceVersion="1",
        LaunchTemplateData={
            "UserData": base64.b64encode(user_data_for("v2").encode()).decode(),
        },
    )["LaunchTemplateVersion"]["VersionNumber"]
    tg = target_group()
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name, "Version": str(version)},
        MinSize=0,
        MaxSize=4,
        DesiredCapacity=1,
        VPCZoneIdentifier=subnet,
        TargetGroupARNs=[tg],
    )

    def members() -> list[str]:
        group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        return [i["InstanceId"] for i in group["AutoScalingGroups"][0]["Instances"]]

    def all_healthy(expected: int) -> list[str] | None:
        ids = members()
        health = health_of(elb, tg)
        ok = len(ids) == expected and all(health.get(i, {}).get("State") == "healthy" for i in ids)
        return ids if ok else None

    (first,) = eventually(lambda: all_healthy(1), what="one healthy instance")
    # The instance booted the version's user data: release v2.
    assert "demo-web:v2" in console_of(ec2, first)

    asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=3)
    three = eventually(lambda: all_healthy(3), what="three healthy instances")

    asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
    (kept,) = eventually(lambda: all_healthy(1), what="one instance left")
    removed = set(three) - {kept}
    assert len(removed) == 2
    # Once EC2 knows the ids everywhere (just-launched ids may still be NotFound).
    eventually(
        lambda: {state_of(ec2, i) for i in removed} == {"terminated"}, what="scaled-in terminated"
    )
    eventually(lambda: set(health_of(elb, tg)) == {kept}, what="scaled-in targets gone")
