"""From an empty VPC to a serving app: setup, init, release add --file, deploy --capacity 2."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from doctor.conftest import IMAGE_ID
from localaws.process import LocalAws

Cli = Callable[..., int]


def _tarball(path: Path) -> Path:
    dockerfile = b"FROM scratch\n"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    return path


def test_init_on_an_empty_vpc_makes_an_app_that_deploys_and_doctor_is_green(
    freshfleet: Cli,
    empty_localaws: LocalAws,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = empty_localaws.url
    assert freshfleet(url, "setup") == 0
    assert freshfleet(url, "init", "shop", "--image-id", IMAGE_ID, "-y") == 0
    tarball = _tarball(tmp_path / "shop-v1.tar.gz")
    assert freshfleet(url, "release", "add", "shop", "v1", "--file", str(tarball)) == 0
    capsys.readouterr()

    assert freshfleet(url, "deploy", "shop", "v1", "--capacity", "2", "--bake", "1", "-y") == 0
    assert "succeeded" in capsys.readouterr().out

    assert freshfleet(url, "doctor", "--app", "shop", "--json") == 0
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["server groups"]["verdict"] == "ok"
    assert "v1, desired 2" in checks["server groups"]["detail"]
    assert checks["target group"]["detail"].endswith("2 of 2 targets healthy")
    assert checks["release URL"]["verdict"] == "ok"  # the s3:// object `release add` put
    assert checks["app answers"]["verdict"] == "ok", checks["app answers"]


def test_a_first_deploy_launches_into_the_instance_subnets_with_an_explicit_health_check(
    freshfleet: Cli,
    empty_localaws: LocalAws,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from localaws.testing import boto3_client
    from rollout.config import RolloutSettings

    url = empty_localaws.url
    ec2 = boto3_client("ec2", url)
    vpc = next(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v.get("IsDefault"))
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="172.31.200.0/24")["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=private)
    assert freshfleet(url, "setup") == 0
    assert (
        freshfleet(url, "init", "shop", "--image-id", IMAGE_ID, "--instance-subnet", private, "-y")
        == 0
    )
    tarball = _tarball(tmp_path / "shop-v1.tar.gz")
    assert freshfleet(url, "release", "add", "shop", "v1", "--file", str(tarball)) == 0
    capsys.readouterr()

    # A private subnet with no way out: doctor says so and how to fix it.
    freshfleet(url, "doctor", "--app", "shop", "--json")
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["instance subnets"]["verdict"] == "fail"
    assert (
        f"{private} (the app's instance) reaches no s3 and no dynamodb"
        in (checks["instance subnets"]["detail"])
    )
    assert (
        f"com.amazonaws.us-east-1.s3 --route-table-ids {table}"
        in (checks["instance subnets"]["fix"])
    )
    for service in ("s3", "dynamodb"):
        ec2.create_vpc_endpoint(
            VpcId=vpc,
            ServiceName=f"com.amazonaws.us-east-1.{service}",
            VpcEndpointType="Gateway",
            RouteTableIds=[table],
        )
    freshfleet(url, "doctor", "--app", "shop", "--json")
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["instance subnets"]["verdict"] == "ok", checks["instance subnets"]

    assert freshfleet(url, "deploy", "shop", "v1", "--capacity", "1", "--bake", "1", "-y") == 0
    asg = boto3_client("autoscaling", url).describe_auto_scaling_groups()["AutoScalingGroups"]
    (group,) = [g for g in asg if g["AutoScalingGroupName"].startswith("shop-")]
    assert group["VPCZoneIdentifier"] == private
    # No boot recorded yet: the grace covers the whole gate deadline and the checks to healthy.
    assert group["HealthCheckGracePeriod"] == RolloutSettings().gate_deadline_seconds + 20
    elb = boto3_client("elbv2", url)
    (tg,) = elb.describe_target_groups(TargetGroupArns=group["TargetGroupARNs"])["TargetGroups"]
    assert (
        tg["HealthCheckIntervalSeconds"],
        tg["HealthCheckTimeoutSeconds"],
        tg["HealthyThresholdCount"],
        tg["UnhealthyThresholdCount"],
        tg["Matcher"]["HttpCode"],
    ) == (10, 5, 2, 3, "200")
    attrs = elb.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"])
    delay = {a["Key"]: a["Value"] for a in attrs["Attributes"]}
    assert delay["deregistration_delay.timeout_seconds"] == "30"
