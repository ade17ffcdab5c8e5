"""EC2 and ELB are eventually consistent, and localaws is too.

AWS: "Eventual consistency in the Amazon EC2 API"
(https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html): an instance id
RunInstances has just returned may answer `InvalidInstanceID.NotFound` ("this does not mean
the instance does not exist"); a security group CreateSecurityGroup has just returned may
answer `InvalidGroup.NotFound`. ELB answers `TargetGroupNotFound` to a target group created
a moment before. Stock moto knows every resource at once; localaws keeps each new one
unknown to those calls for its `[localaws] *_not_found_seconds` window.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localaws.process import LocalAws
from localaws.testing import boto3_client, start_test_localaws


@pytest.fixture(scope="module")
def aws_pace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    """An unseeded localaws at AWS's own pace (time scale 1), where the windows and buckets
    are AWS's seconds."""
    env = {"FRESHFLEET_LOCALAWS__TIME_SCALE": "1"}
    with start_test_localaws(tmp_path_factory.mktemp("aws-pace"), seed=False, env=env) as la:
        yield la


def _code(call: Callable[[], Any]) -> str:
    try:
        call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return ""


def test_a_just_launched_instance_is_not_found_by_id_for_a_window(
    aws_pace: LocalAws, launch: Callable[..., list[str]], eventually: Any
) -> None:
    ec2 = boto3_client("ec2", aws_pace.url)
    (instance,) = launch("v1", url=aws_pace.url)

    with pytest.raises(ClientError, match=r"InvalidInstanceID\.NotFound"):
        ec2.describe_instances(InstanceIds=[instance])
    with pytest.raises(ClientError, match=r"InvalidInstanceID\.NotFound"):
        ec2.describe_instance_status(InstanceIds=[instance], IncludeAllInstances=True)

    eventually(
        lambda: _code(lambda: ec2.describe_instances(InstanceIds=[instance])) == "",
        what="EC2 knows the new instance",
    )
    statuses = ec2.describe_instance_status(InstanceIds=[instance], IncludeAllInstances=True)
    assert [s["InstanceId"] for s in statuses["InstanceStatuses"]] == [instance]


def test_one_unknown_id_fails_the_whole_call(
    aws_pace: LocalAws, launch: Callable[..., list[str]], eventually: Any
) -> None:
    ec2 = boto3_client("ec2", aws_pace.url)
    (old,) = launch("v1", url=aws_pace.url)
    eventually(lambda: _code(lambda: ec2.describe_instances(InstanceIds=[old])) == "")
    (new,) = launch("v1", url=aws_pace.url)

    with pytest.raises(ClientError, match=new) as caught:
        ec2.describe_instance_status(InstanceIds=[old, new], IncludeAllInstances=True)
    assert caught.value.response["Error"]["Code"] == "InvalidInstanceID.NotFound"


def test_a_just_created_target_group_is_not_found_by_modify_attributes_for_a_window(
    aws_pace: LocalAws, target_group: Callable[..., str], eventually: Any
) -> None:
    elb = boto3_client("elbv2", aws_pace.url)
    arn = target_group(aws_pace.url)
    attributes = [{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}]

    def modify() -> None:
        elb.modify_target_group_attributes(TargetGroupArn=arn, Attributes=attributes)

    assert _code(modify) == "TargetGroupNotFound"
    eventually(lambda: _code(modify) == "", what="ELB knows the new target group")


def test_a_just_created_security_group_is_not_found_by_authorize_for_a_window(
    aws_pace: LocalAws, eventually: Any
) -> None:
    ec2 = boto3_client("ec2", aws_pace.url)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    group = ec2.create_security_group(
        GroupName=f"contract-{uuid.uuid4().hex[:12]}", Description="contract", VpcId=vpc["VpcId"]
    )["GroupId"]
    rule = {
        "IpProtocol": "tcp",
        "FromPort": 8080,
        "ToPort": 8080,
        "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
    }

    def authorize() -> None:
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[rule])

    assert _code(authorize) == "InvalidGroup.NotFound"
    eventually(lambda: _code(authorize) == "", what="EC2 knows the new security group")
