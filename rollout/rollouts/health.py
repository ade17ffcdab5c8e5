"""What a server group's instances look like now: EC2 state, target health, boot phase."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from rollout.gateway import AwsError, Gateway
from rollout.ledger.codec import attr, from_item
from rollout.rollouts.groups import describe_group


@dataclass(frozen=True, slots=True)
class InstanceView:
    instance_id: str
    state: str
    health: str = ""
    health_reason: str = ""
    phase: str = ""
    phase_status: str = ""
    detail: str = ""

    @property
    def healthy(self) -> bool:
        return self.state == "running" and self.health == "healthy"

    @property
    def boot_failed(self) -> bool:
        return self.phase_status == "fail"


async def target_health(gw: Gateway, target_group_arn: str) -> dict[str, tuple[str, str]]:
    """Instance id -> (state, reason text) for every registered target."""
    got = await gw.call("elbv2", "describe_target_health", TargetGroupArn=target_group_arn)
    out: dict[str, tuple[str, str]] = {}
    for d in got.get("TargetHealthDescriptions", []):
        th = d.get("TargetHealth", {})
        reason = " ".join(x for x in (th.get("Reason", ""), th.get("Description", "")) if x)
        out[d["Target"]["Id"]] = (str(th.get("State", "unknown")), reason)
    return out


async def boot_phases(gw: Gateway, table: str, ids: list[str]) -> dict[str, dict[str, str]]:
    """The instances table's last phase per instance ({} when the table is absent)."""
    out: dict[str, dict[str, str]] = {}
    for i in range(0, len(ids), 100):
        try:
            got = await gw.call(
                "dynamodb",
                "batch_get_item",
                RequestItems={
                    table: {
                        "Keys": [{"instance_id": attr(x)} for x in ids[i : i + 100]],
                        "ConsistentRead": True,
                    }
                },
            )
        except AwsError as exc:
            if exc.code == "ResourceNotFoundException":
                return out
            raise
        for raw in got.get("Responses", {}).get(table, []):
            item = from_item(raw)
            out[str(item["instance_id"])] = {k: str(v) for k, v in item.items()}
    return out


async def instance_states(gw: Gateway, ids: list[str]) -> dict[str, str]:
    """Instance id -> EC2 state name (`describe_instance_status`: far lighter than
    `describe_instances`, whose answer carries every instance's whole description)."""
    states: dict[str, str] = {}
    for i in range(0, len(ids), 100):
        batch = ids[i : i + 100]
        got = await gw.call(
            "ec2", "describe_instance_status", InstanceIds=batch, IncludeAllInstances=True
        )
        for status in got.get("InstanceStatuses", []):
            states[status["InstanceId"]] = status["InstanceState"]["Name"]
    return states


async def group_view(
    gw: Gateway, asg_name: str, target_group_arn: str, instances_table: str
) -> list[InstanceView]:
    """Every instance the ASG holds now, with its health and boot phase.

    The reads are independent but for the ids: the target health is read while the ASG
    is, then the states and boot phases of its instances together.
    """

    async def members() -> tuple[list[str], dict[str, str], dict[str, dict[str, str]]]:
        asg = await describe_group(gw, asg_name)
        ids = [i["InstanceId"] for i in (asg or {}).get("Instances", [])]
        if not ids:
            return [], {}, {}
        states, phases = await asyncio.gather(
            instance_states(gw, ids), boot_phases(gw, instances_table, ids)
        )
        return ids, states, phases

    (ids, states, phases), health = await asyncio.gather(
        members(), target_health(gw, target_group_arn)
    )
    if not ids:
        return []
    views = []
    for iid in ids:
        h_state, h_reason = health.get(iid, ("", ""))
        boot = phases.get(iid, {})
        views.append(
            InstanceView(
                instance_id=iid,
                state=states.get(iid, "unknown"),
                health=h_state,
                health_reason=h_reason,
                phase=boot.get("phase", ""),
                phase_status=boot.get("status", ""),
                detail=boot.get("detail", ""),
            )
        )
    return views


async def healthy_count(gw: Gateway, target_group_arn: str) -> tuple[int, str]:
    """How many targets are healthy, and the reason of one that is not (for messages)."""
    health = await target_health(gw, target_group_arn)
    healthy = sum(1 for s, _ in health.values() if s == "healthy")
    why = next((f"{i}: {s} {r}".strip() for i, (s, r) in health.items() if s != "healthy"), "")
    return healthy, why
