"""`freshfleet init` on a localaws that has only its default VPC."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from doctor.conftest import IMAGE_ID
from localaws.process import LocalAws
from localaws.testing import boto3_client
from rollout.model import TAG_APP

Cli = Callable[..., int]


def _tags(elb: Any, arn: str) -> dict[str, str]:
    desc = elb.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]
    return {t["Key"]: t["Value"] for t in desc["Tags"]}


def test_init_shows_its_plan_creates_the_app_once_and_dry_run_creates_nothing(
    freshfleet: Cli, empty_localaws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    url = empty_localaws.url
    ec2, elb = boto3_client("ec2", url), boto3_client("elbv2", url)

    # Without an image there is no launch template to make: init says which flag it needs.
    assert freshfleet(url, "init", "shop", "-y") == 2
    assert "--image-id" in capsys.readouterr().err

    # A dry run says what it would create, and creates nothing.
    assert freshfleet(url, "init", "shop", "--image-id", IMAGE_ID, "--dry-run") == 0
    shown = capsys.readouterr().out
    for piece in ("freshfleet-shop-alb", "freshfleet-shop-instances", "HTTP:80", "IMDSv2"):
        assert piece in shown
    assert "dry run: nothing created" in shown
    assert elb.describe_load_balancers()["LoadBalancers"] == []
    assert ec2.describe_launch_templates()["LaunchTemplates"] == []

    # Without a terminal and without -y, init refuses to guess.
    assert freshfleet(url, "init", "shop", "--image-id", IMAGE_ID) == 2
    assert "pass -y" in capsys.readouterr().err
    assert elb.describe_load_balancers()["LoadBalancers"] == []

    # With -y it creates the five pieces, all tagged for the app.
    assert freshfleet(url, "init", "shop", "--image-id", IMAGE_ID, "-y", "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert sorted(s["kind"] for s in result["created"]) == [
        "launch template",
        "listener",
        "load balancer",
        "security group",
        "security group",
    ]
    (lb,) = elb.describe_load_balancers()["LoadBalancers"]
    assert _tags(elb, lb["LoadBalancerArn"])[TAG_APP] == "shop"
    (listener,) = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    assert _tags(elb, listener["ListenerArn"])[TAG_APP] == "shop"
    # Until the first deploy the listener answers 503; the deploy swaps in a weighted forward.
    (action,) = listener["DefaultActions"]
    assert action["Type"] == "fixed-response"
    assert action["FixedResponseConfig"]["StatusCode"] == "503"

    version = ec2.describe_launch_template_versions(
        LaunchTemplateName="freshfleet-shop", Versions=["$Default"]
    )["LaunchTemplateVersions"][0]
    data = version["LaunchTemplateData"]
    assert data["ImageId"] == IMAGE_ID
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1

    groups = {
        g["GroupName"]: g
        for g in ec2.describe_security_groups(
            Filters=[{"Name": f"tag:{TAG_APP}", "Values": ["shop"]}]
        )["SecurityGroups"]
    }
    alb_sg, instance_sg = groups["freshfleet-shop-alb"], groups["freshfleet-shop-instances"]
    assert data["SecurityGroupIds"] == [instance_sg["GroupId"]]
    assert lb["SecurityGroups"] == [alb_sg["GroupId"]]
    (inbound,) = instance_sg["IpPermissions"]
    assert inbound["FromPort"] == 8080
    assert [p["GroupId"] for p in inbound["UserIdGroupPairs"]] == [alb_sg["GroupId"]]

    # A second run finds everything and creates nothing.
    assert freshfleet(url, "init", "shop", "--image-id", IMAGE_ID, "-y") == 0
    assert "nothing to create" in capsys.readouterr().out
    assert len(elb.describe_load_balancers()["LoadBalancers"]) == 1
    assert len(ec2.describe_launch_templates()["LaunchTemplates"]) == 1


def test_init_adds_a_listener_rule_on_a_shared_alb(
    freshfleet: Cli, empty_localaws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    url = empty_localaws.url
    ec2, elb = boto3_client("ec2", url), boto3_client("elbv2", url)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    shared = elb.create_load_balancer(Name="shared", Subnets=subnets)["LoadBalancers"][0]
    elb.create_listener(
        LoadBalancerArn=shared["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )
    argv = ("init", "shop", "--image-id", IMAGE_ID, "--alb", shared["LoadBalancerArn"])
    listener = elb.describe_listeners(LoadBalancerArn=shared["LoadBalancerArn"])["Listeners"][0]
    # The deployer policy adds rules only to a tagged listener: the plan names the fix.
    capsys.readouterr()
    assert freshfleet(url, *argv, "--host", "shop.example.com", "--dry-run", "--json") == 0
    steps = json.loads(capsys.readouterr().out)["steps"]
    (rule_step,) = [s for s in steps if s["kind"] == "listener rule"]
    fix = f"--resource-arns {listener['ListenerArn']} --tags Key={TAG_APP},Value=shop"
    assert fix in rule_step["detail"]
    elb.add_tags(ResourceArns=[listener["ListenerArn"]], Tags=[{"Key": TAG_APP, "Value": "shop"}])
    assert freshfleet(url, *argv, "--host", "shop.example.com", "--dry-run", "--json") == 0
    steps = json.loads(capsys.readouterr().out)["steps"]
    assert not [s for s in steps if "add-tags" in s["detail"]]  # tagged: nothing to ask
    assert freshfleet(url, *argv, "--host", "shop.example.com", "-y") == 0
    capsys.readouterr()

    rules = elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
    (rule,) = [r for r in rules if not r["IsDefault"]]
    assert _tags(elb, rule["RuleArn"])[TAG_APP] == "shop"
    assert rule["Conditions"][0]["Field"] == "host-header"
    assert rule["Actions"][0]["Type"] == "fixed-response"
    assert _tags(elb, shared["LoadBalancerArn"])[TAG_APP] == "shop"
    # No ALB of its own, and no security group for one.
    assert len(elb.describe_load_balancers()["LoadBalancers"]) == 1
    names = [
        g["GroupName"]
        for g in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
            "SecurityGroups"
        ]
    ]
    assert "freshfleet-shop-instances" in names and "freshfleet-shop-alb" not in names

    assert freshfleet(url, *argv, "--host", "shop.example.com", "-y") == 0
    assert "nothing to create" in capsys.readouterr().out


def test_init_run_again_restores_an_ingress_rule_the_security_group_lost(
    freshfleet: Cli, empty_localaws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    """An init cut short between CreateSecurityGroup and its rule (on AWS, a new group may
    answer InvalidGroup.NotFound for a while) leaves the group empty: the next run finds
    the group by name and must put the rule back, or every health check times out."""
    ec2 = boto3_client("ec2", empty_localaws.url)
    assert freshfleet(empty_localaws.url, "init", "shop", "--image-id", IMAGE_ID, "-y") == 0
    (group,) = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["freshfleet-shop-instances"]}]
    )["SecurityGroups"]
    (rule,) = group["IpPermissions"]
    ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[rule])
    capsys.readouterr()

    assert freshfleet(empty_localaws.url, "init", "shop", "--image-id", IMAGE_ID, "-y") == 0

    (again,) = ec2.describe_security_groups(GroupIds=[group["GroupId"]])["SecurityGroups"]
    (restored,) = again["IpPermissions"]
    assert restored["FromPort"] == rule["FromPort"] == 8080
    assert [p["GroupId"] for p in restored["UserIdGroupPairs"]] == [
        p["GroupId"] for p in rule["UserIdGroupPairs"]
    ]
    assert "restored" in capsys.readouterr().out


def test_init_dry_run_on_the_demo_offers_no_load_balancer_it_already_has(
    freshfleet: Cli, localaws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    # demo-web's ALB is named demo-web, not freshfleet-demo-web: it is found by its tags.
    assert freshfleet(localaws.url, "init", "demo-web", "--dry-run", "--json") == 0
    plan = json.loads(capsys.readouterr().out)
    steps = {s["kind"]: s for s in plan["steps"]}
    for kind in ("load balancer", "listener", "launch template"):
        assert steps[kind]["exists"], steps[kind]
    assert steps["load balancer"]["name"] == "demo-web"
