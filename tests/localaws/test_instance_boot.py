"""Instances boot like EC2's: `pending` first, then `running`, each with its own console.

Patches: InstanceBackend.run_instances, General.get_console_output, Instance.terminate,
FakeTargetGroup.register (pending instances) — checked through plain boto3.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from localaws_helpers import console_of, health_of, state_of

from localaws.process import LocalAws
from localaws.testing import boto3_client, start_test_localaws


def _arn(instance_id: str) -> str:
    """An instance's key in the instances table (its ARN, in moto's account)."""
    return f"arn:aws:ec2:us-east-1:123456789012:instance/{instance_id}"


@pytest.fixture(scope="module")
def slow_boot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    """An unseeded localaws whose instances stay pending for 4 s (400 s of AWS time at the
    tests' scale), so `pending` is seen."""
    directory: Path = tmp_path_factory.mktemp("slow-boot")
    env = {
        "FRESHFLEET_LOCALAWS__PENDING_SECONDS": "400",
        "FRESHFLEET_LOCALAWS__PHASE_SECONDS": "20",
    }
    with start_test_localaws(directory, seed=False, env=env) as handle:
        yield handle


def test_a_new_instance_is_pending_then_running(
    slow_boot: LocalAws, launch: Callable[..., list[str]], eventually: Callable[..., Any]
) -> None:
    ec2 = boto3_client("ec2", slow_boot.url)
    (instance,) = launch("v1", url=slow_boot.url)
    eventually(lambda: state_of(ec2, instance) == "pending", what="pending once EC2 knows it")
    eventually(lambda: state_of(ec2, instance) == "running", within=20, what="running")


def test_a_pending_instance_can_be_registered_and_is_initial_until_it_runs(
    slow_boot: LocalAws,
    launch: Callable[..., list[str]],
    target_group: Callable[..., str],
    eventually: Callable[..., Any],
) -> None:
    ec2, elb = boto3_client("ec2", slow_boot.url), boto3_client("elbv2", slow_boot.url)
    tg = target_group(slow_boot.url)
    (instance,) = launch("v1", url=slow_boot.url)
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    eventually(lambda: state_of(ec2, instance) == "pending", what="pending once EC2 knows it")
    health = health_of(elb, tg)[instance]
    assert health["State"] == "initial"
    assert health["Reason"] == "Elb.RegistrationInProgress"
    eventually(
        lambda: health_of(elb, tg)[instance]["State"] == "healthy", within=30, what="healthy"
    )


def test_each_instance_prints_its_own_boot_phases_to_its_console(
    localaws: LocalAws,
    launch: Callable[..., list[str]],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2 = aws_client("ec2")
    (first,) = launch("v1")
    (second,) = launch("v2")
    for instance, version in ((first, "v1"), (second, "v2")):
        text = eventually(
            lambda i=instance: "health ok" in console_of(ec2, i) and console_of(ec2, i),
            what=f"{instance}'s health ok line",
        )
        phase_lines = [line for line in text.splitlines() if line.startswith("freshfleet-boot ")]
        phases = [line.split()[2:4] for line in phase_lines]
        assert phases == [
            [phase, status]
            for phase in ("fetch", "verify", "extract", "build", "run", "health")
            for status in ("start", "ok")
        ]
        assert f"/releases/demo-web/{version}.tar.gz" in text
        assert f"demo-web:{version}" in text
    assert console_of(ec2, first) != console_of(ec2, second)


def test_boot_phases_reach_the_instances_table(
    localaws: LocalAws,
    launch: Callable[..., list[str]],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ddb = aws_client("dynamodb")
    (instance,) = launch("v2")

    def item() -> dict[str, Any] | None:
        found = ddb.get_item(
            TableName="freshfleet-instances", Key={"instance_arn": {"S": _arn(instance)}}
        )
        got = found.get("Item")
        return got if got and got["phase"]["S"] == "health" and got["status"]["S"] == "ok" else None

    row = eventually(item, what="the health ok item")
    assert row["app"]["S"] == "demo-web"
    assert row["release"]["S"] == "v2"
    assert row["updated_at"]["S"].endswith("Z")


def test_a_release_that_fails_its_build_says_so_on_console_and_in_the_table(
    localaws: LocalAws,
    launch: Callable[..., list[str]],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2, ddb = aws_client("ec2"), aws_client("dynamodb")
    (instance,) = launch("v2", simulate={"fail": "build"})
    text = eventually(
        lambda: "build fail" in console_of(ec2, instance) and console_of(ec2, instance),
        what="build fail",
    )
    assert "run start" not in text
    row = eventually(
        lambda: (
            ddb.get_item(
                TableName="freshfleet-instances", Key={"instance_arn": {"S": _arn(instance)}}
            )
            .get("Item", {})
            .get("status", {})
            .get("S")
            == "fail"
        ),
        what="the fail item",
    )
    assert row


def test_a_terminated_instance_keeps_its_console_output(
    localaws: LocalAws,
    launch: Callable[..., list[str]],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2 = aws_client("ec2")
    (instance,) = launch("v1")
    eventually(lambda: "health ok" in console_of(ec2, instance), what="booted")
    ec2.terminate_instances(InstanceIds=[instance])
    # Once EC2 knows the id everywhere (a just-launched id may still be NotFound).
    eventually(lambda: state_of(ec2, instance) == "terminated", what="terminated")
    assert "health ok" in console_of(ec2, instance)
