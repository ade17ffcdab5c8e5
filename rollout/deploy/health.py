"""What a server group's instances look like now: EC2 state, target health, boot phase."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from enum import StrEnum
from typing import TypeVar

from rollout.aws.eventual import instance_states
from rollout.aws.gateway import AwsError, Gateway, is_transient
from rollout.fleet.groups import describe_group
from rollout.fleet.records import target_health_of
from rollout.ledger.batch import batch_get
from rollout.ledger.codec import from_item
from rollout.ledger.instances import id_of, instance_keys
from rollout.model import InstanceState, InstanceView, Phase, PhaseStatus, TargetHealth

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")


def _known(kind: type[E], value: str) -> E | None:
    """`value` as a member of `kind`, or None when empty or not one of its values."""
    try:
        return kind(value) if value else None
    except ValueError:
        return None


async def target_health(gw: Gateway, target_group_arn: str) -> dict[str, TargetHealth]:
    """Instance id -> its health, for every registered target (`target_health_of`)."""
    got = await gw.call("elbv2", "describe_target_health", TargetGroupArn=target_group_arn)
    return {d["Target"]["Id"]: target_health_of(d) for d in got.get("TargetHealthDescriptions", [])}


def _reason(health: TargetHealth) -> str:
    """AWS's reason code and description, as one text."""
    return " ".join(x for x in (health.reason, health.description) if x)


async def boot_phases(gw: Gateway, table: str, ids: list[str]) -> dict[str, dict[str, str]]:
    """The instances table's last phase per instance ({} when the table is absent); every
    key is read, `UnprocessedKeys` included."""
    try:
        keys = await instance_keys(gw, ids)
        items = await batch_get(gw, table, keys, consistent=True)
    except AwsError as exc:
        if exc.code == "ResourceNotFoundException":
            return {}
        raise
    out: dict[str, dict[str, str]] = {}
    for raw in items:
        item = from_item(raw)
        # Whose row it is comes from its key, never from an attribute the writer chose.
        out[id_of(item)] = {k: str(v) for k, v in item.items()}
    return out


# An ASG's lifecycle state, as the EC2 state the gate shows while EC2 does not know the id
# yet (docs/ARCHITECTURE.md §4: a just-launched id answers InvalidInstanceID.NotFound).
_LIFECYCLE_STATES = {
    "Pending": "pending",
    "Pending:Wait": "pending",
    "Pending:Proceed": "pending",
    "Terminating": "shutting-down",
    "Terminating:Wait": "shutting-down",
    "Terminating:Proceed": "shutting-down",
    "Terminated": "terminated",
    "Detaching": "running",
    "Detached": "running",
    "EnteringStandby": "running",
    "Standby": "running",
}


async def group_view(
    gw: Gateway,
    asg_name: str,
    target_group_arn: str,
    instances_table: str,
    *,
    app: str,
    rollout_id: str,
) -> list[InstanceView] | None:
    """Every instance the ASG holds now, with its health and boot phase; None when a
    transient AWS failure (throttling, a 5xx, a credential refresh) left this tick without
    a reading: the caller waits for the next tick rather than fail.

    A row is the instance its key names (an instance role writes only its own ARN's row),
    and its boot phase counts only when the row names this `app` and `rollout_id`, as the
    agent launched by this rollout writes it: a row naming another app or rollout (an agent
    given other settings, or anyone else with access to the table) is ignored, never a
    reason to fail.

    The members come from the ASG's own `Instances[]`; EC2 is asked only about those ids
    (never region-wide), and an id EC2 does not know yet takes its state from the ASG's
    lifecycle state. Each view carries the ASG's lifecycle state: a member the ASG is taking
    out (`Terminating*`, `Terminated`) or detaching (`Detaching`, `Detached`) is `leaving`,
    one on standby (`EnteringStandby`, `Standby`) `on_standby`, one a launch hook holds
    (`Pending:Wait`) `waiting_on_hook`, and none is ever healthy. The target health is read
    while the ASG is, then the states and boot phases of its instances together.
    """
    got = await _reading(
        asyncio.gather(_members(gw, asg_name, instances_table), target_health(gw, target_group_arn))
    )
    if got is None:
        return None
    (lifecycle, states, phases), health = got
    views = []
    for iid, stage in lifecycle.items():
        target = health.get(iid)
        boot = phases.get(iid, {})
        if (boot.get("app"), boot.get("rollout")) != (app, rollout_id):
            boot = {}  # another app's or rollout's row (or a forged one): not this boot
        views.append(
            InstanceView(
                instance_id=iid,
                group=asg_name,
                state=InstanceState(states.get(iid) or _LIFECYCLE_STATES.get(stage, "pending")),
                health=target.state if target else None,
                health_reason=_reason(target) if target else "",
                phase=_known(Phase, boot.get("phase", "")),
                phase_status=_known(PhaseStatus, boot.get("status", "")),
                detail=boot.get("detail", ""),
                lifecycle=stage,
            )
        )
    return views


async def _members(
    gw: Gateway, asg_name: str, instances_table: str
) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, str]]]:
    """The ASG's members (id -> lifecycle state), their EC2 states and their boot rows."""
    asg = await describe_group(gw, asg_name)
    lifecycle = {
        str(i["InstanceId"]): str(i.get("LifecycleState", ""))
        for i in (asg or {}).get("Instances", [])
    }
    if not lifecycle:
        return {}, {}, {}
    ids = list(lifecycle)
    states, phases = await asyncio.gather(
        instance_states(gw, ids), boot_phases(gw, instances_table, ids)
    )
    return lifecycle, states, phases


LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"


async def launch_hooks(gw: Gateway, asg_name: str) -> list[str] | None:
    """The names of the ASG's launch lifecycle hooks (`autoscaling:EC2_INSTANCE_LAUNCHING`,
    the ones that hold a new instance in `Pending:Wait`), or None when a transient AWS
    failure left no reading."""
    found = await _reading(
        gw.call("autoscaling", "describe_lifecycle_hooks", AutoScalingGroupName=asg_name)
    )
    if found is None:
        return None
    return [
        str(h["LifecycleHookName"])
        for h in found.get("LifecycleHooks", [])
        if h.get("LifecycleTransition") == LAUNCHING
    ]


async def _reading(work: Awaitable[T]) -> T | None:
    """What `work` read, or None when a transient AWS failure (throttling, a 5xx, a
    credential refresh) left it without a reading; any other AwsError raises."""
    try:
        return await work
    except AwsError as exc:
        if is_transient(exc):
            return None
        raise


async def healthy_count(gw: Gateway, target_group_arn: str) -> tuple[int, str]:
    """How many targets are healthy, and the reason of one that is not (for messages)."""
    health = await target_health(gw, target_group_arn)
    healthy = sum(1 for h in health.values() if h.healthy)
    why = next(
        (f"{i}: {h.state} {_reason(h)}".strip() for i, h in health.items() if not h.healthy), ""
    )
    return healthy, why


async def health_reading(gw: Gateway, target_group_arn: str) -> tuple[int, str] | None:
    """`healthy_count`, or None when a transient AWS failure left this tick without a
    reading (a watch then waits for the next tick rather than roll back)."""
    return await _reading(healthy_count(gw, target_group_arn))
