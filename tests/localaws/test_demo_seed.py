"""The demo seed: what a user sees right after `freshfleet localaws` says ready."""

from __future__ import annotations

import base64
import hashlib
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from localaws.process import LocalAws
from localaws.testing import boto3_client
from rollout.model import TAG_APP, TAG_RELEASE, TAG_ROLLOUT
from rollout.naming import server_group_name
from rollout.userdata import parse_release_env


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


def test_the_demo_fleet_spans_the_two_zones_its_load_balancer_enables(
    localaws: LocalAws, aws_client: Callable[..., Any]
) -> None:
    ec2, elb, asg = aws_client("ec2"), aws_client("elbv2"), aws_client("autoscaling")
    lb = elb.describe_load_balancers(Names=["demo-web"])["LoadBalancers"][0]
    lb_zones = {z["ZoneName"]: z["SubnetId"] for z in lb["AvailabilityZones"]}
    assert len(lb_zones) == 2
    (group,) = [
        g
        for g in asg.describe_auto_scaling_groups()["AutoScalingGroups"]
        if {t["Key"]: t["Value"] for t in g["Tags"]}.get(TAG_APP) == "demo-web"
    ]
    # The group launches in the load balancer's subnets, one per zone it enables.
    assert sorted(group["VPCZoneIdentifier"].split(",")) == sorted(lb_zones.values())
    ids = [i["InstanceId"] for i in group["Instances"]]
    reservations = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    zones = [i["Placement"]["AvailabilityZone"] for r in reservations for i in r["Instances"]]
    assert set(zones) == set(lb_zones)  # 3 instances over 2 zones: AWS balances them, 2 and 1
    assert sorted(zones.count(z) for z in lb_zones) == [1, 2]


def test_the_seed_is_complete(localaws: LocalAws, aws_client: Callable[..., Any]) -> None:
    ec2, elb, ddb = aws_client("ec2"), aws_client("elbv2"), aws_client("dynamodb")
    tables = set(ddb.list_tables()["TableNames"])
    assert {
        "freshfleet-releases",
        "freshfleet-rollouts",
        "freshfleet-locks",
        "freshfleet-instances",
    } <= tables

    releases = ddb.query(
        TableName="freshfleet-releases",
        KeyConditionExpression="app = :a",
        ExpressionAttributeValues={":a": {"S": "demo-web"}},
    )["Items"]
    by_version = {r["version"]["S"]: r for r in releases}
    assert set(by_version) == {"v1", "v2", "v3", "v4", "v5"}
    for version, record in by_version.items():
        url = record["url"]["S"]
        assert url.startswith("http://127.0.0.1:")
        tarball = urllib.request.urlopen(url, timeout=5).read()
        assert hashlib.sha256(tarball).hexdigest() == record["sha256"]["S"], version
        assert record["port"]["N"] == "8080"
        assert record["health_path"]["S"] == "/health"
    assert by_version["v3"]["simulate"]["M"]["never_healthy"]["N"] == "1"
    assert "simulate" not in by_version["v1"]

    rollouts = ddb.query(
        TableName="freshfleet-rollouts",
        KeyConditionExpression="app = :a",
        ExpressionAttributeValues={":a": {"S": "demo-web"}},
    )["Items"]
    assert len(rollouts) == 1
    rollout = rollouts[0]
    assert rollout["state"]["S"] == "succeeded"
    assert rollout["to_release"]["S"] == "v1"
    assert rollout["from_release"]["S"] == ""
    assert rollout["strategy"]["S"] == "blue-green"
    assert rollout["owner"]["S"] == "localaws-seed"

    template = ec2.describe_launch_templates(LaunchTemplateNames=["freshfleet-demo-web"])
    template_id = template["LaunchTemplates"][0]["LaunchTemplateId"]
    versions = ec2.describe_launch_template_versions(LaunchTemplateId=template_id)
    data = {v["VersionNumber"]: v["LaunchTemplateData"] for v in versions["LaunchTemplateVersions"]}
    assert all(d["MetadataOptions"]["HttpTokens"] == "required" for d in data.values())
    user_data = base64.b64decode(data[max(data)]["UserData"]).decode()
    env = parse_release_env(user_data)
    assert env["FRESHFLEET_VERSION"] == "v1"
    assert env["RELEASE_SHA256"] == by_version["v1"]["sha256"]["S"]
    assert env["FRESHFLEET_ROLLOUT"] == rollout["rollout_id"]["S"]

    lb = elb.describe_load_balancers(Names=["demo-web"])["LoadBalancers"][0]
    listener = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"][0]
    tg_arn = demo_target_group(aws_client)
    tags = {
        d["ResourceArn"]: {t["Key"]: t["Value"] for t in d["Tags"]}
        for d in elb.describe_tags(
            ResourceArns=[lb["LoadBalancerArn"], listener["ListenerArn"], tg_arn]
        )["TagDescriptions"]
    }
    assert tags[lb["LoadBalancerArn"]][TAG_APP] == "demo-web"
    assert tags[listener["ListenerArn"]][TAG_APP] == "demo-web"
    assert tags[tg_arn][TAG_RELEASE] == "v1"
    assert tags[tg_arn][TAG_ROLLOUT] == rollout["rollout_id"]["S"]
    tg = elb.describe_target_groups(TargetGroupArns=[tg_arn])["TargetGroups"][0]
    assert tg["HealthCheckPath"] == "/health"
    assert tg["Port"] == 8080
    assert tg["TargetGroupName"] == server_group_name("demo-web", rollout["rollout_id"]["S"])


def test_fresh_localaws_gives_each_test_a_clean_demo(
    fresh_localaws: LocalAws, eventually: Callable[..., Any]
) -> None:
    ec2 = boto3_client("ec2", fresh_localaws.url)
    ec2.run_instances(ImageId="ami-03cf127a", MinCount=2, MaxCount=2)
    fresh_localaws.reseed()
    reservations = ec2.describe_instances()["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    assert len(instances) == 3
    assert {i["State"]["Name"] for i in instances} == {"running"}
    assert "demo-web" in fresh_localaws.albs

    def answer() -> bytes | None:
        # Until the new instances boot, the listener has nothing healthy to send to (503).
        try:
            return bytes(urllib.request.urlopen(fresh_localaws.albs["demo-web"], timeout=5).read())
        except urllib.error.URLError:
            return None

    body = eventually(answer, within=30, what="the reseeded demo answering")
    assert body.startswith(b"demo-web v1 ")
