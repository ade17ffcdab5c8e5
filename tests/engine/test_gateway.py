"""The gateway: one client per service, clear errors for every way a backend can be wrong."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from botocore.exceptions import ClientError

import rollout.aws.gateway as gateway_module
from rollout.aws.backend import Backend
from rollout.aws.gateway import AccessDenied, AwsError, CredentialsError, Gateway, translate


async def test_clients_are_created_once_and_shared(gateway: Gateway) -> None:
    first = await gateway.client("ec2")
    assert await gateway.client("ec2") is first
    assert await gateway.client("dynamodb") is not first


async def test_a_sweep_on_a_thread_returns_what_the_loop_would(gateway: Gateway) -> None:
    on_loop = await gateway.paginate("ec2", "describe_security_groups", "SecurityGroups")
    on_thread = await gateway.paginate_in_thread(
        "ec2", "describe_security_groups", "SecurityGroups"
    )
    assert on_loop and on_thread == on_loop


async def test_a_thread_parses_a_big_response_in_slices_to_the_same_result(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker-thread clients feed XML to the parser a slice at a time (so the loop gets the
    GIL between slices); slices cut anywhere, even inside a tag, give the same answer."""
    monkeypatch.setattr(gateway_module, "_XML_SLICE", 257)
    await gateway.call("ec2", "run_instances", ImageId="ami-03cf127a", MinCount=6, MaxCount=6)
    fed: list[int] = []
    client = gateway._sync_client("ec2")
    original = ElementTree.XMLParser

    class Counting(original):  # type: ignore[misc, valid-type]
        def feed(self, data: bytes) -> None:
            fed.append(len(data))
            super().feed(data)

    monkeypatch.setattr(ElementTree, "XMLParser", Counting)
    on_loop = await gateway.paginate("ec2", "describe_instances", "Reservations")
    fed.clear()
    on_thread = await gateway.paginate_in_thread("ec2", "describe_instances", "Reservations")
    assert client is gateway._sync_client("ec2")
    assert len(fed) > 10 and max(fed) <= 257
    assert on_thread == on_loop
    assert sum(len(r["Instances"]) for r in on_thread) == 6


async def test_lean_instance_states_match_the_full_parse(gateway: Gateway) -> None:
    """The thread's lean DescribeInstanceStatus keeps exactly the id and the state name of
    each instance, as botocore's full parse says them; other calls stay whole."""
    ran = await gateway.call("ec2", "run_instances", ImageId="ami-03cf127a", MinCount=5, MaxCount=5)
    await gateway.call("ec2", "stop_instances", InstanceIds=[ran["Instances"][0]["InstanceId"]])
    full = await gateway.paginate(
        "ec2", "describe_instance_status", "InstanceStatuses", IncludeAllInstances=True
    )
    lean = await gateway.instance_states_in_thread(IncludeAllInstances=True, MaxResults=1000)
    expected = [
        {"InstanceId": s["InstanceId"], "InstanceState": {"Name": s["InstanceState"]["Name"]}}
        for s in full
    ]
    assert lean == expected and len(lean) == 5
    assert {s["InstanceState"]["Name"] for s in lean} >= {"running"}
    whole = await gateway.paginate_in_thread(
        "ec2", "describe_instance_status", "InstanceStatuses", IncludeAllInstances=True
    )
    assert whole == full  # the same thread client, outside the lean sweep: every field


async def test_lean_target_health_matches_the_full_parse(gateway: Gateway) -> None:
    """The thread's lean DescribeTargetHealth keeps each target's id and its health
    (state, reason, description) as botocore's full parse says them."""
    ran = await gateway.call("ec2", "run_instances", ImageId="ami-03cf127a", MinCount=3, MaxCount=3)
    ids = [i["InstanceId"] for i in ran["Instances"]]
    vpc = (await gateway.call("ec2", "describe_vpcs"))["Vpcs"][0]["VpcId"]
    tg = (
        await gateway.call(
            "elbv2", "create_target_group", Name="lean", Protocol="HTTP", Port=80, VpcId=vpc
        )
    )["TargetGroups"][0]["TargetGroupArn"]
    await gateway.call(
        "elbv2", "register_targets", TargetGroupArn=tg, Targets=[{"Id": i} for i in ids]
    )
    await gateway.call("ec2", "stop_instances", InstanceIds=ids[:1])  # one not healthy

    full = await gateway.call("elbv2", "describe_target_health", TargetGroupArn=tg)
    lean = await gateway.target_health_in_thread(tg)
    expected = [
        {"Target": {"Id": d["Target"]["Id"]}, "TargetHealth": d["TargetHealth"]}
        for d in full["TargetHealthDescriptions"]
    ]
    assert lean["TargetHealthDescriptions"] == expected and len(expected) == 3
    assert any("Reason" in d["TargetHealth"] for d in expected)


async def test_calls_are_counted_through_before_call(gateway: Gateway) -> None:
    seen: list[str] = []
    gateway.register("before-call", lambda event_name, **_: seen.append(event_name))
    await gateway.call("ec2", "describe_regions")
    await gateway.paginate_in_thread("ec2", "describe_security_groups", "SecurityGroups")
    assert seen == ["before-call.ec2.DescribeRegions", "before-call.ec2.DescribeSecurityGroups"]


async def test_a_wrong_endpoint_says_so_at_once() -> None:
    async with Gateway(Backend(endpoint_url="http://127.0.0.1:9", region="us-east-1")) as gw:
        with pytest.raises(AwsError, match=r"cannot reach http://127.0.0.1:9") as caught:
            await gw.call("ec2", "describe_regions")
    assert caught.value.code == "EndpointConnectionError"


async def test_an_unknown_region_is_named() -> None:
    async with Gateway(Backend(region="mars-north-1")) as gw:
        with pytest.raises(AwsError, match="unknown AWS region 'mars-north-1'"):
            await gw.client("ec2")


def _client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "denied by policy"}}, operation)


def test_access_denied_names_the_iam_action() -> None:
    exc = translate(_client_error("AccessDenied", "DescribeTargetHealth"), "elbv2")
    assert isinstance(exc, AccessDenied)
    assert exc.action == "elasticloadbalancing:DescribeTargetHealth"
    assert "elasticloadbalancing:DescribeTargetHealth" in str(exc)


def test_expired_credentials_say_how_to_refresh() -> None:
    exc = translate(_client_error("ExpiredToken", "DescribeInstances"), "ec2")
    assert isinstance(exc, CredentialsError)
    assert "expired" in str(exc) and "refresh" in str(exc)
