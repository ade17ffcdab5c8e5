"""A small fleet in a moto server, built the way freshfleet names and tags things.

Used by the engine tests until (and besides) the shared localaws fixture: one ALB with a
listener per app, and per server group an ASG and its target group, all tagged per
`rollout.naming`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import boto3

from rollout.model import TAG_APP
from rollout.naming import asg_tag_list, elb_tag_list, launch_template_name, server_group_name

REGION = "us-east-1"


def clients(url: str) -> dict[str, Any]:
    kw = {
        "endpoint_url": url,
        "region_name": REGION,
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
    }
    return {s: boto3.client(s, **kw) for s in ("ec2", "elbv2", "autoscaling", "dynamodb")}


@dataclass
class SeededApp:
    name: str
    lb_arn: str
    listener_arn: str
    launch_template_id: str
    subnets: list[str]
    vpc_id: str
    groups: dict[str, tuple[str, str]]  # rollout id -> (group name, target group arn)


def seed_app(
    url: str, app: str, *, release: str, rollout_id: str, capacity: int, user_data: str = ""
) -> SeededApp:
    """An app with one serving server group of `capacity` instances on `release`.

    `user_data` (plain text) goes into the launch template, for a localaws that boots it.
    """
    c = clients(url)
    ec2, elb = c["ec2"], c["elbv2"]
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    subnets = [
        s["SubnetId"]
        for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
            "Subnets"
        ]
    ][:2]
    image = "ami-03cf127a"  # one of moto's stock images
    lt = ec2.create_launch_template(
        LaunchTemplateName=launch_template_name(app),
        LaunchTemplateData={
            "ImageId": image,
            "InstanceType": "t3.micro",
            **({"UserData": base64.b64encode(user_data.encode()).decode()} if user_data else {}),
        },
    )["LaunchTemplate"]
    lb = elb.create_load_balancer(Name=app, Subnets=subnets, Tags=elb_tag_list({TAG_APP: app}))[
        "LoadBalancers"
    ][0]
    seeded = SeededApp(
        app, lb["LoadBalancerArn"], "", lt["LaunchTemplateId"], subnets, vpc["VpcId"], {}
    )
    tg_arn = add_group(url, seeded, release=release, rollout_id=rollout_id, capacity=capacity)
    listener = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=8080,
        DefaultActions=[forward({tg_arn: 100})],
        Tags=elb_tag_list({TAG_APP: app}),
    )["Listeners"][0]
    seeded.listener_arn = listener["ListenerArn"]
    return seeded


def add_group(url: str, app: SeededApp, *, release: str, rollout_id: str, capacity: int) -> str:
    """A new server group (ASG + target group) out of traffic; returns the target group ARN."""
    c = clients(url)
    name = server_group_name(app.name, rollout_id)
    tags = {TAG_APP: app.name, "freshfleet:release": release, "freshfleet:rollout": rollout_id}
    tg = c["elbv2"].create_target_group(
        Name=name,
        Protocol="HTTP",
        Port=8080,
        VpcId=app.vpc_id,
        HealthCheckPath="/health",
        Tags=elb_tag_list(tags),
    )["TargetGroups"][0]
    c["autoscaling"].create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateId": app.launch_template_id, "Version": "$Latest"},
        MinSize=0,
        MaxSize=max(capacity, 1) * 2,
        DesiredCapacity=capacity,
        VPCZoneIdentifier=",".join(app.subnets),
        TargetGroupARNs=[tg["TargetGroupArn"]],
        Tags=asg_tag_list(app.name, release, rollout_id, name),
    )
    app.groups[rollout_id] = (name, tg["TargetGroupArn"])
    return str(tg["TargetGroupArn"])


def forward(weights: dict[str, int]) -> dict[str, Any]:
    return {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": a, "Weight": w} for a, w in weights.items()]
        },
    }


def set_weights(url: str, app: SeededApp, weights: dict[str, int]) -> None:
    clients(url)["elbv2"].modify_listener(
        ListenerArn=app.listener_arn, DefaultActions=[forward(weights)]
    )


def group_instances(url: str, group: str) -> list[str]:
    asg = clients(url)["autoscaling"].describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    return sorted(i["InstanceId"] for i in asg["AutoScalingGroups"][0]["Instances"])
