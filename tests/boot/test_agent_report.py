"""The agent's phase reports reach the instances table even when the first writes fail (a
table or credentials not there yet): retried with backoff, never given up for the boot."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from collections.abc import Callable
from typing import Any

from bootscript.agent import identity
from bootscript.agent.report import ITEM_TTL_SECONDS, PhaseReporter
from localaws.runtimes.base import InstanceLaunch
from localaws.runtimes.real import MetadataServer

ARN = "arn:aws:ec2:us-east-1:123456789012:instance/i-0report"


def _table(db: Any, name: str) -> None:
    db.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "instance_arn", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "instance_arn", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _reporter(aws_client: Callable[..., Any], table: str, **kw: Any) -> PhaseReporter:
    kw.setdefault("instance_arn", ARN)
    return PhaseReporter(
        instance_id="i-0report",
        app="demo-web",
        release="v2",
        rollout="r-42",
        table=table,
        table_client=lambda: aws_client("dynamodb"),
        console=io.StringIO(),
        journal=io.StringIO(),
        **kw,
    )


def test_a_write_that_fails_is_retried_with_backoff(aws_client: Callable[..., Any]) -> None:
    db, table = aws_client("dynamodb"), f"instances-{uuid.uuid4().hex[:8]}"
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the table appears while the agent backs off
        waits.append(seconds)
        if len(waits) == 1:
            _table(db, table)

    report = _reporter(aws_client, table, sleep=sleep)
    report.event("fetch", "start")

    item = db.get_item(TableName=table, Key={"instance_arn": {"S": ARN}})["Item"]
    assert (item["phase"]["S"], item["status"]["S"]) == ("fetch", "start")
    assert waits == [0.25]
    assert item["started_at"]["S"] == report.started_at
    assert (item["app"]["S"], item["rollout"]["S"]) == ("demo-web", "r-42")  # what the gate reads
    assert abs(int(item["ttl"]["N"]) - (time.time() + ITEM_TTL_SECONDS)) < 60


def test_after_a_failed_write_the_next_phases_still_reach_the_table(
    aws_client: Callable[..., Any],
) -> None:
    db, table = aws_client("dynamodb"), f"instances-{uuid.uuid4().hex[:8]}"
    report = _reporter(aws_client, table, sleep=lambda s: None)
    report.event("fetch", "start")  # no table yet: every attempt fails
    _table(db, table)
    report.event("fetch", "fail", "HTTP 404")

    item = db.get_item(TableName=table, Key={"instance_arn": {"S": ARN}})["Item"]
    assert (item["phase"]["S"], item["status"]["S"], item["detail"]["S"]) == (
        "fetch",
        "fail",
        "HTTP 404",
    )
    journal = report.journal.getvalue()
    assert journal.count("cannot write to table") == 1
    assert f"writing to table {table} again" in journal


async def test_the_region_imds_gives_wins_over_the_env_files() -> None:
    server = MetadataServer()
    await server.start()
    try:
        server.register(
            InstanceLaunch(
                instance_id="i-0eu",
                user_data="",
                env={},
                region="eu-west-1",
                endpoint_url="",
                tags={},
            )
        )
        who = await asyncio.to_thread(identity.discover, server.endpoint("i-0eu"), "", "us-east-1")
        assert (who.region, who.source) == ("eu-west-1", "imds")
    finally:
        await server.close()


def test_the_boot_report_is_keyed_by_the_instances_own_arn() -> None:
    """The key is what IAM gives the instance role's sessions as `ec2:SourceInstanceARN`
    (iam/instance-role.json lets a session write that item only)."""
    assert identity.instance_arn("eu-west-1", "123456789012", "i-0eu") == (
        "arn:aws:ec2:eu-west-1:123456789012:instance/i-0eu"
    )
    assert identity.instance_arn("cn-north-1", "123456789012", "i-0cn").startswith("arn:aws-cn:")
    assert identity.instance_arn("us-gov-west-1", "1", "i-0g").startswith("arn:aws-us-gov:")
    assert identity.instance_arn("eu-west-1", "", "i-0eu") == ""  # no account: no key
    # Every partition's regions, by prefix (the engine reads the rows under this same function).
    partitions = {
        "us-east-1": "aws",
        "eu-west-1": "aws",
        "cn-north-1": "aws-cn",
        "us-gov-east-1": "aws-us-gov",
        "us-iso-east-1": "aws-iso",
        "us-isob-east-1": "aws-iso-b",
    }
    assert {r: identity.partition_of(r) for r in partitions} == partitions


def test_without_its_arn_the_agent_writes_no_row_and_says_so(
    aws_client: Callable[..., Any],
) -> None:
    db, table = aws_client("dynamodb"), f"instances-{uuid.uuid4().hex[:8]}"
    _table(db, table)
    report = _reporter(aws_client, table, instance_arn="")
    report.event("fetch", "start")
    report.event("fetch", "ok")
    assert db.scan(TableName=table)["Items"] == []
    assert report.journal.getvalue().count("ARN is unknown") == 1
