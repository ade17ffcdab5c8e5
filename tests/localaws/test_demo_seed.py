"""The demo seed: what a user sees right after `freshfleet localaws` says ready."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from typing import Any

from localaws.process import LocalAws
from rollout.model import TAG_APP, TAG_RELEASE, TAG_ROLLOUT


def demo_target_group(aws_client: Callable[..., Any]) -> str:
    elb = aws_client("elbv2")
    lb = elb.describe_load_balancers(Names=["demo-web"])["LoadBalancers"][0]
    listener = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"][0]
    groups = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    serving = [g["TargetGroupArn"] for g in groups if g["Weight"] > 0]
    assert len(serving) == 1
    return str(serving[0])


def test_demo_web_serves_v1_on_three_healthy_instances(
    localaws: LocalAws, aws_client: Callable[..., Any], eventually: Callable[..., Any]
) -> None:
    ec2, asg = aws_client("ec2"), aws_client("autoscaling")
    groups = [
        g
        for g in asg.describe_auto_scaling_groups()["AutoScalingGroups"]
        if {t["Key"]: t["Value"] for t in g["Tags"]}.get(TAG_APP) == "demo-web"
    ]
    assert len(groups) == 1
    ids = [i["InstanceId"] for i in groups[0]["Instances"]]
    assert len(ids) == 3
    reservations = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    assert {i["State"]["Name"] for i in instances} == {"running"}
    for instance in instances:
        tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
        assert tags[TAG_APP] == "demo-web"
        assert tags[TAG_RELEASE] == "v1"
        assert tags[TAG_ROLLOUT]

    tg = demo_target_group(aws_client)

    def all_healthy() -> bool:
        health = aws_client("elbv2").describe_target_health(TargetGroupArn=tg)
        states = {
            d["Target"]["Id"]: d["TargetHealth"]["State"]
            for d in health["TargetHealthDescriptions"]
        }
        return set(states) == set(ids) and set(states.values()) == {"healthy"}

    eventually(all_healthy, within=15, what="the 3 demo instances healthy")
    body = urllib.request.urlopen(localaws.albs["demo-web"], timeout=5).read().decode()
    assert body.startswith("demo-web v1 i-")
