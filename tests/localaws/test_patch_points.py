"""The moto names localaws patches still exist, on the moto version they were written for.

Each patch also has a behaviour test through plain boto3 (see the module docstrings of
this folder); this one names the patch point a moto upgrade moved.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localaws.server.patches import ADDED, MOTO_VERSION, PATCHED


def test_moto_is_the_pinned_version() -> None:
    assert importlib.metadata.version("moto") == MOTO_VERSION


@pytest.mark.parametrize(
    ("owner", "name"),
    [(owner, name) for owner, name, _ in PATCHED],
    ids=[f"{owner.__name__}.{name}" for owner, name, _ in PATCHED],
)
def test_the_patched_name_exists(owner: type, name: str) -> None:
    found = inspect.getattr_static(owner, name, None)
    assert callable(found) or isinstance(found, property), (
        f"moto no longer has {owner.__name__}.{name}"
    )


def test_console_output_is_still_served_by_the_patched_class() -> None:
    from moto.ec2.responses import EC2Response
    from moto.ec2.responses.general import General

    assert inspect.getattr_static(EC2Response, "get_console_output") is (
        inspect.getattr_static(General, "get_console_output")
    )


@pytest.mark.parametrize(
    ("owner", "name"),
    [(owner, name) for owner, name, _ in ADDED],
    ids=[f"{owner.__name__}.{name}" for owner, name, _ in ADDED],
)
def test_the_added_name_is_still_missing_from_moto(owner: type, name: str) -> None:
    from moto.ec2.responses import EC2Response

    assert getattr(owner, name, None) is None, f"moto now has {owner.__name__}.{name}"
    assert getattr(EC2Response, name, None) is None, f"moto now serves EC2Response.{name}"


def test_launch_template_versions_are_deleted_and_gone(
    aws_client: Callable[..., Any],
) -> None:
    ec2 = aws_client("ec2")
    name = f"contract-lt-{uuid.uuid4().hex[:12]}"
    template = ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": "ami-03cf127a"}
    )["LaunchTemplate"]
    for image in ("ami-00000002", "ami-00000003"):
        ec2.create_launch_template_version(
            LaunchTemplateName=name, LaunchTemplateData={"ImageId": image}
        )

    def numbers() -> list[int]:
        got = ec2.describe_launch_template_versions(LaunchTemplateName=name)
        return [v["VersionNumber"] for v in got["LaunchTemplateVersions"]]

    assert numbers() == [1, 2, 3]
    got = ec2.delete_launch_template_versions(LaunchTemplateName=name, Versions=["2"])
    assert got["SuccessfullyDeletedLaunchTemplateVersions"] == [
        {
            "LaunchTemplateId": template["LaunchTemplateId"],
            "LaunchTemplateName": name,
            "VersionNumber": 2,
        }
    ]
    assert got["UnsuccessfullyDeletedLaunchTemplateVersions"] == []
    assert numbers() == [1, 3]
    with pytest.raises(ClientError, match="VersionNotFound"):
        ec2.describe_launch_template_versions(LaunchTemplateName=name, Versions=["2"])

    again = ec2.delete_launch_template_versions(
        LaunchTemplateId=template["LaunchTemplateId"], Versions=["2", "7"]
    )
    assert again["SuccessfullyDeletedLaunchTemplateVersions"] == []
    assert [
        (b["VersionNumber"], b["ResponseError"]["Code"])
        for b in again["UnsuccessfullyDeletedLaunchTemplateVersions"]
    ] == [(2, "launchTemplateVersionDoesNotExist"), (7, "launchTemplateVersionDoesNotExist")]

    default = ec2.delete_launch_template_versions(LaunchTemplateName=name, Versions=["1"])
    assert default["SuccessfullyDeletedLaunchTemplateVersions"] == []
    [bad] = default["UnsuccessfullyDeletedLaunchTemplateVersions"]
    assert (bad["VersionNumber"], bad["ResponseError"]["Code"]) == (
        1,
        "launchTemplateVersionIsDefault",
    )
    assert numbers() == [1, 3]

    # Numbers are never reused; $Latest skips a deleted latest version.
    ec2.create_launch_template_version(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": "ami-00000004"}
    )
    assert numbers() == [1, 3, 4]
    ec2.delete_launch_template_versions(LaunchTemplateName=name, Versions=["4"])
    latest = ec2.describe_launch_template_versions(LaunchTemplateName=name, Versions=["$Latest"])
    assert [v["VersionNumber"] for v in latest["LaunchTemplateVersions"]] == [3]
    ec2.delete_launch_template(LaunchTemplateName=name)


def test_describe_policies_names_the_alarms_that_drive_a_policy(
    aws_client: Callable[..., Any],
) -> None:
    asg, cw, ec2 = aws_client("autoscaling"), aws_client("cloudwatch"), aws_client("ec2")
    name = f"contract-asg-{uuid.uuid4().hex[:12]}"
    lt = ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": "ami-03cf127a"}
    )["LaunchTemplate"]["LaunchTemplateName"]
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": lt},
        MinSize=0,
        MaxSize=1,
        AvailabilityZones=[zone],
    )
    try:
        asg.put_scaling_policy(
            AutoScalingGroupName=name,
            PolicyName="up",
            PolicyType="StepScaling",
            AdjustmentType="ChangeInCapacity",
            StepAdjustments=[{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
        )
        arn = asg.describe_policies(AutoScalingGroupName=name)["ScalingPolicies"][0]["PolicyARN"]
        cw.put_metric_alarm(
            AlarmName=f"{name}-cpu",
            MetricName="CPUUtilization",
            Namespace="AWS/EC2",
            Statistic="Average",
            Period=60,
            EvaluationPeriods=1,
            Threshold=70,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[arn],
        )
        (policy,) = asg.describe_policies(AutoScalingGroupName=name)["ScalingPolicies"]
        assert [a["AlarmName"] for a in policy["Alarms"]] == [f"{name}-cpu"]
    finally:
        cw.delete_alarms(AlarmNames=[f"{name}-cpu"])
        asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)


def test_two_groups_keep_their_own_policy_of_the_same_name(
    aws_client: Callable[..., Any],
) -> None:
    asg, ec2 = aws_client("autoscaling"), aws_client("ec2")
    names = [f"contract-asg-{uuid.uuid4().hex[:12]}" for _ in range(2)]
    lt = ec2.create_launch_template(
        LaunchTemplateName=names[0], LaunchTemplateData={"ImageId": "ami-03cf127a"}
    )["LaunchTemplate"]["LaunchTemplateName"]
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    for i, name in enumerate(names):
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": lt},
            MinSize=0,
            MaxSize=1,
            AvailabilityZones=[zone],
        )
        asg.put_scaling_policy(
            AutoScalingGroupName=name,
            PolicyName="cpu",
            PolicyType="TargetTrackingScaling",
            TargetTrackingConfiguration={
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "ASGAverageCPUUtilization"
                },
                "TargetValue": 40.0 + i,
            },
        )
    try:
        for i, name in enumerate(names):
            (policy,) = asg.describe_policies(AutoScalingGroupName=name)["ScalingPolicies"]
            assert policy["TargetTrackingConfiguration"]["TargetValue"] == 40.0 + i
    finally:
        for name in names:
            asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)


def test_the_default_vpc_routes_to_an_internet_gateway(aws_client: Callable[..., Any]) -> None:
    ec2 = aws_client("ec2")
    vpc = next(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v.get("IsDefault"))
    (main,) = ec2.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc]},
            {"Name": "association.main", "Values": ["true"]},
        ]
    )["RouteTables"]
    gateways = {
        r.get("GatewayId", "")
        for r in main["Routes"]
        if r.get("DestinationCidrBlock") == "0.0.0.0/0"
    }
    (igw,) = gateways
    attached = ec2.describe_internet_gateways(InternetGatewayIds=[igw])["InternetGateways"][0]
    assert [a["VpcId"] for a in attached["Attachments"]] == [vpc]


def test_a_version_made_from_a_source_version_inherits_what_it_does_not_name(
    aws_client: Callable[..., Any],
) -> None:
    ec2 = aws_client("ec2")
    name = f"contract-lt-{uuid.uuid4().hex[:12]}"
    ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={"ImageId": "ami-03cf127a", "InstanceType": "t3.small"},
    )
    made = ec2.create_launch_template_version(
        LaunchTemplateName=name, SourceVersion="1", LaunchTemplateData={"ImageId": "ami-00000002"}
    )["LaunchTemplateVersion"]
    got = ec2.describe_launch_template_versions(
        LaunchTemplateName=name, Versions=[str(made["VersionNumber"])]
    )["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    assert (got["ImageId"], got["InstanceType"]) == ("ami-00000002", "t3.small")
    plain = ec2.create_launch_template_version(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": "ami-00000003"}
    )["LaunchTemplateVersion"]
    assert "InstanceType" not in plain["LaunchTemplateData"]  # no source: nothing inherited
    ec2.delete_launch_template(LaunchTemplateName=name)


def test_expected_bucket_owner_of_another_account_is_access_denied(
    aws_client: Callable[..., Any], localaws: Any
) -> None:
    """AWS: a request whose ExpectedBucketOwner is not the bucket owner's account fails with
    403 AccessDenied (S3 user guide, "Verifying bucket ownership"); the owner's own passes."""
    from localaws.testing import other_account_client

    s3, other = aws_client("s3"), other_account_client("s3", localaws.url, "111111111111")
    bucket = f"contract-owner-{uuid.uuid4().hex[:12]}"
    other.create_bucket(Bucket=bucket)
    other.put_object(Bucket=bucket, Key="k", Body=b"theirs")
    mine = "123456789012"
    with pytest.raises(ClientError) as head:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=mine)
    assert head.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    for call in (
        lambda: s3.head_object(Bucket=bucket, Key="k", ExpectedBucketOwner=mine),
        lambda: s3.get_object(Bucket=bucket, Key="k", ExpectedBucketOwner=mine),
        lambda: s3.put_object(Bucket=bucket, Key="k2", Body=b"x", ExpectedBucketOwner=mine),
    ):
        with pytest.raises(ClientError) as denied:
            call()
        assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert [o["Key"] for o in other.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
    # The owner's own account passes; so does a call without the header.
    got = other.get_object(Bucket=bucket, Key="k", ExpectedBucketOwner="111111111111")
    assert got["Body"].read() == b"theirs"
    assert s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as missing:  # no bucket: as without the header
        s3.head_bucket(Bucket=f"{bucket}-none", ExpectedBucketOwner=mine)
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
