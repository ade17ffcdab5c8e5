"""The engine on AWS's eventual consistency, throttling and unprocessed keys (on localaws,
which answers as AWS documents; see localaws/README.md, "Fidelity to AWS")."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localaws.process import LocalAws
from localaws.testing import TEST_TIME_SCALE, boto3_client, start_test_localaws
from rollout.aws.backend import Backend
from rollout.aws.eventual import after_create, instance_states
from rollout.aws.gateway import AwsError, Gateway
from rollout.deploy.health import boot_phases, group_view, health_reading
from rollout.fleet.groups import delete_server_group
from rollout.ledger.batch import batch_get
from rollout.ledger.codec import to_item
from rollout.model import HealthState, InstanceState, InstanceView

APP = "demo-web"


@pytest.fixture(scope="module")
def aws_pace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    """An unseeded localaws at AWS's own pace (time scale 1), where the windows and buckets
    are AWS's seconds."""
    env = {"FRESHFLEET_LOCALAWS__TIME_SCALE": "1"}
    with start_test_localaws(tmp_path_factory.mktemp("aws-pace"), seed=False, env=env) as la:
        yield la


def _gateway(la: LocalAws, **kwargs: Any) -> Gateway:
    return Gateway(Backend(endpoint_url=la.url, region=la.region, local=True), **kwargs)


def _demo_group(la: LocalAws) -> tuple[Any, str, str, list[str]]:
    """An Auto Scaling client, and the seed's one group: its name, target group, members."""
    asg = boto3_client("autoscaling", la.url)
    (group,) = asg.describe_auto_scaling_groups()["AutoScalingGroups"]
    members = [i["InstanceId"] for i in group["Instances"]]
    return asg, group["AutoScalingGroupName"], group["TargetGroupARNs"][0], members


def _drain_delay(la: LocalAws, target_group_arn: str, seconds: int) -> None:
    """Set the target group's deregistration delay (AWS seconds)."""
    boto3_client("elbv2", la.url).modify_target_group_attributes(
        TargetGroupArn=target_group_arn,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(seconds)}],
    )


def _launch(la: LocalAws, count: int = 1) -> list[str]:
    ec2 = boto3_client("ec2", la.url)
    got = ec2.run_instances(ImageId="ami-03cf127a", MinCount=count, MaxCount=count)
    return [i["InstanceId"] for i in got["Instances"]]


async def test_states_by_id_leave_out_the_instances_ec2_does_not_know_yet(
    aws_pace: LocalAws,
) -> None:
    localaws = aws_pace
    (old,) = _launch(localaws)
    async with _gateway(localaws) as gw:
        for _ in range(100):  # EC2 learns of it within its window
            if old in await instance_states(gw, [old]):
                break
            await asyncio.sleep(0.1)
        new = _launch(localaws, 2)
        with pytest.raises(AwsError, match="InvalidInstanceID"):
            await gw.call("ec2", "describe_instance_status", InstanceIds=[old, *new])
        states = await instance_states(gw, [old, *new])
    assert list(states) == [old]


async def test_a_call_right_after_a_create_waits_until_aws_knows_the_resource(
    aws_pace: LocalAws,
) -> None:
    localaws = aws_pace
    async with _gateway(localaws) as gw:
        vpc = (await gw.call("ec2", "describe_vpcs"))["Vpcs"][0]["VpcId"]
        made = await gw.call(
            "elbv2",
            "create_target_group",
            Name=f"ec-{uuid.uuid4().hex[:12]}",
            Protocol="HTTP",
            Port=8080,
            VpcId=vpc,
        )
        arn = made["TargetGroups"][0]["TargetGroupArn"]
        attributes = [{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}]
        with pytest.raises(AwsError, match="TargetGroupNotFound"):
            await gw.call(
                "elbv2", "modify_target_group_attributes", TargetGroupArn=arn, Attributes=attributes
            )
        await after_create(
            gw, "elbv2", "modify_target_group_attributes", TargetGroupArn=arn, Attributes=attributes
        )
        # A resource that really is not there still fails, once the window is over.
        with pytest.raises(AwsError, match="TargetGroupNotFound"):
            await after_create(
                gw,
                "elbv2",
                "modify_target_group_attributes",
                within=0.5,
                TargetGroupArn=arn.replace(arn[-16:], "0" * 16),
                Attributes=attributes,
            )


async def test_a_throttled_reading_is_no_reading_not_a_failure(aws_pace: LocalAws) -> None:
    fresh_localaws = aws_pace  # AWS's own refill rates
    ec2 = boto3_client("ec2", aws_pace.url)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    name = f"throttled-{uuid.uuid4().hex[:8]}"
    group = boto3_client("elbv2", aws_pace.url).create_target_group(
        Name=name, Protocol="HTTP", Port=8080, VpcId=vpc
    )["TargetGroups"][0]
    ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": "ami-03cf127a"}
    )
    asg = name
    boto3_client("autoscaling", aws_pace.url).create_auto_scaling_group(
        AutoScalingGroupName=asg,
        LaunchTemplate={"LaunchTemplateName": name},
        MinSize=0,
        MaxSize=1,
        DesiredCapacity=0,
        VPCZoneIdentifier=subnet,
        TargetGroupARNs=[group["TargetGroupArn"]],
    )
    stop, throttled = threading.Event(), threading.Event()

    def another_tool_in_the_account() -> None:  # keeps ELB's shared Describe* bucket empty
        elb = boto3.client(
            "elbv2",
            endpoint_url=fresh_localaws.url,
            region_name=fresh_localaws.region,
            aws_access_key_id="freshfleet",
            aws_secret_access_key="freshfleet",
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )
        while not stop.is_set():
            try:
                elb.describe_load_balancers()
            except ClientError:
                throttled.set()

    # No retries (max_attempts counts them), so the SDK does not hide the throttling.
    async with _gateway(fresh_localaws, max_attempts=0) as gw:
        arn = group["TargetGroupArn"]
        assert await health_reading(gw, arn) is not None
        table = "freshfleet-instances"
        assert await group_view(gw, asg, arn, table, app="a", rollout_id="r") == []
        tools = [threading.Thread(target=another_tool_in_the_account) for _ in range(3)]
        for tool in tools:
            tool.start()
        try:
            assert await asyncio.to_thread(throttled.wait, 20)
            readings = [await health_reading(gw, arn) for _ in range(5)]
            views = [
                await group_view(gw, asg, arn, table, app="a", rollout_id="r") for _ in range(5)
            ]
        finally:
            stop.set()
            for tool in tools:
                tool.join()
    # Never an error; a tick whose call was throttled has no reading.
    assert None in readings
    assert None in views


@pytest.fixture(scope="module")
def unprocessing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    """A localaws whose BatchGetItem leaves 60 % of every call's keys unprocessed."""
    env = {"FRESHFLEET_LOCALAWS__BATCH_GET_UNPROCESSED_SHARE": "0.6"}
    directory: Path = tmp_path_factory.mktemp("unprocessed")
    with start_test_localaws(directory, seed=False, env=env) as la:
        yield la


async def test_every_batch_get_reads_every_key_past_unprocessed_keys_and_100_keys(
    unprocessing: LocalAws,
) -> None:
    ddb = boto3_client("dynamodb", unprocessing.url)
    table = f"instances-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "instance_arn", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "instance_arn", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ids = [f"i-{n:017x}" for n in range(250)]
    arn = "arn:aws:ec2:us-east-1:123456789012:instance/{}".format
    for i in ids:
        ddb.put_item(
            TableName=table,
            Item=to_item({"instance_arn": arn(i), "phase": "health", "status": "fail"}),
        )
    async with _gateway(unprocessing) as gw:
        phases = await boot_phases(gw, table, ids)
        items = await batch_get(gw, table, [to_item({"instance_arn": arn(i)}) for i in ids])
    assert sorted(phases) == ids  # the gate sees every instance's failed phase
    assert all(p["status"] == "fail" for p in phases.values())
    assert len(items) == 250


def test_an_instance_leaving_its_asg_is_never_healthy() -> None:
    # On AWS a Terminating instance is still `running` in EC2, and its target may read
    # `healthy` until its deregistration shows: it is leaving all the same.
    view = InstanceView(
        instance_id="i-0",
        group="g",
        state=InstanceState.RUNNING,
        health=HealthState.HEALTHY,
        lifecycle="Terminating",
    )
    assert view.leaving and not view.healthy
    assert dataclasses.replace(view, lifecycle="InService").healthy


async def test_a_scaled_in_member_is_read_as_leaving_while_it_drains(
    fresh_localaws: LocalAws,
) -> None:
    asg, name, arn, members = _demo_group(fresh_localaws)
    _drain_delay(fresh_localaws, arn, 300)  # AWS's default (3 s here) outlasts the reading
    asg.update_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=len(members) - 1, DesiredCapacity=len(members) - 1
    )
    async with _gateway(fresh_localaws) as gw:
        views = await group_view(gw, name, arn, "freshfleet-instances", app=APP, rollout_id="r")
    assert views is not None
    assert {v.instance_id for v in views} == set(members)  # AWS still lists it, Terminating
    leaving = [v for v in views if v.leaving]
    assert len(leaving) == 1
    assert leaving[0].state == InstanceState.RUNNING  # EC2 runs it until Terminating:Proceed
    assert not leaving[0].healthy
    assert len([v for v in views if not v.leaving]) == len(members) - 1


async def test_a_group_deletion_waits_out_a_terminating_hook_beyond_its_stall_and_names_it(
    fresh_localaws: LocalAws,
) -> None:
    asg, name, arn, _ = _demo_group(fresh_localaws)
    _drain_delay(fresh_localaws, arn, 30)  # 0.3 s here
    asg.put_lifecycle_hook(
        AutoScalingGroupName=name,
        LifecycleHookName="ship-logs",
        LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
        HeartbeatTimeout=300,  # 3 s here; nobody completes it
        DefaultResult="CONTINUE",
    )
    said: list[str] = []
    backend = Backend(
        endpoint_url=fresh_localaws.url,
        region=fresh_localaws.region,
        local=True,
        time_scale=TEST_TIME_SCALE,
    )
    loop = asyncio.get_running_loop()
    async with Gateway(backend) as gw:
        started = loop.time()
        # A stall allowance of 1.5 s, shorter than the hook's wait: the wait is not a stall.
        warnings = await delete_server_group(
            gw,
            asg_name=name,
            target_group_arn="",
            launch_template="",
            launch_template_version="",
            stall_seconds=1.5,
            on_wait=said.append,
        )
    assert warnings == []
    assert loop.time() - started >= 300 * TEST_TIME_SCALE  # it waited out the hook
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"] == []
    assert said, "the wait was never told"
    assert (
        f"3 instances of {name} wait in Terminating:Wait on the lifecycle hook ship-logs "
        "(HeartbeatTimeout 300 s, DefaultResult CONTINUE)" in said[0]
    ), said
