"""Reading what plain boto3 sees, for localaws's contract tests."""

from __future__ import annotations

from typing import Any


def health_of(elb: Any, tg: str, targets: list[str] | None = None) -> dict[str, dict[str, str]]:
    """Target id → TargetHealth of a target group (all listed targets, or those named)."""
    params: dict[str, Any] = {"TargetGroupArn": tg}
    if targets:
        params["Targets"] = [{"Id": t} for t in targets]
    found = elb.describe_target_health(**params)["TargetHealthDescriptions"]
    return {d["Target"]["Id"]: d["TargetHealth"] for d in found}


def state_of(ec2: Any, instance_id: str) -> str:
    reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return str(reservations[0]["Instances"][0]["State"]["Name"])


def console_of(ec2: Any, instance_id: str) -> str:
    return str(ec2.get_console_output(InstanceId=instance_id).get("Output", ""))
