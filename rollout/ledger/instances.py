"""The instances table: the boot agent's latest phase per instance (ARCHITECTURE §3, §6).

The agent writes one item per instance (`instance_arn`, `instance_id`, app, release, rollout,
phase, status, detail, updated_at), overwriting it at every phase, so an item is the latest
phase. The key is the instance's ARN, because that is what the instance role's policy can bind
it to: `dynamodb:LeadingKeys` must equal `${ec2:SourceInstanceARN}`, so an instance writes its
own item and no other (iam/instance-role.json). Readers name instances by id and turn ids into
keys with the gateway's region and account (`instance_arn`, which the agent's
`bootscript.agent.identity` defines for both: the agent ships alone, the engine imports it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bootscript.agent.identity import instance_arn as instance_arn  # the key, re-exported
from rollout.aws.gateway import Gateway
from rollout.config import Tables
from rollout.ledger.batch import batch_get
from rollout.ledger.codec import ItemValue, from_item, to_item
from rollout.ledger.tables import app_items
from rollout.ledger.timestamps import iso, parse_time
from rollout.model import BootPhase, Phase, PhaseStatus

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.type_defs import AttributeValueTypeDef


@dataclass(frozen=True, slots=True)
class InstanceBoot:
    """One instances-table item: where an instance's boot stands."""

    instance_id: str
    app: str
    release: str
    boot: BootPhase
    started_at: datetime | None = None  # when the agent began, if it recorded it
    rollout: str = ""  # the rollout whose launch template the agent was given

    @property
    def final(self) -> bool:
        """True when the boot can no longer change: healthy, or a phase failed."""
        return self.boot.failed or (
            self.boot.phase is Phase.HEALTH and self.boot.status is PhaseStatus.OK
        )


async def instance_keys(
    gateway: Gateway, instance_ids: Iterable[str]
) -> list[dict[str, AttributeValueTypeDef]]:
    """The instances-table keys of these instance ids (sorted, each once), in the gateway's
    region and account."""
    region, account = await gateway.region(), await gateway.account_id()
    return [
        to_item({"instance_arn": instance_arn(region, account, i)})
        for i in sorted(set(instance_ids))
    ]


def id_of(values: Mapping[str, ItemValue]) -> str:
    """The instance an item is about, from its key (`instance_arn`): never from the
    `instance_id` attribute, which the writing instance may set to anything."""
    arn = str(values.get("instance_arn", ""))
    return arn.rpartition("/")[2] if arn else str(values.get("instance_id", ""))


def boot_of(values: Mapping[str, ItemValue]) -> InstanceBoot | None:
    """An InstanceBoot from an item's plain values; None when the phase is unreadable."""
    try:
        phase = Phase(str(values.get("phase", "")))
        status = PhaseStatus(str(values.get("status", "")))
    except ValueError:
        return None
    at = parse_time(values.get("updated_at")) or datetime.fromtimestamp(0, UTC)
    return InstanceBoot(
        instance_id=id_of(values),
        app=str(values.get("app", "")),
        release=str(values.get("release", "")),
        boot=BootPhase(phase, status, at, str(values.get("detail", ""))),
        started_at=parse_time(values.get("started_at")),
        rollout=str(values.get("rollout", "")),
    )


async def latest_phases(
    gateway: Gateway, tables: Tables, instance_ids: Iterable[str]
) -> dict[str, InstanceBoot]:
    """The latest boot phase of each instance that has reported one (batched gets)."""
    keys = await instance_keys(gateway, instance_ids)
    out: dict[str, InstanceBoot] = {}
    for item in await batch_get(gateway, tables.instances, keys):
        boot = boot_of(from_item(item))
        if boot is not None:
            out[boot.instance_id] = boot
    return out


async def app_boots(gateway: Gateway, tables: Tables, app: str) -> list[InstanceBoot]:
    """Every instances-table item of one app (a scan: for boot statistics, not per tick)."""
    items = await app_items(gateway, tables.instances, app, scan=True)
    return [b for b in map(boot_of, items) if b is not None]


async def record_phase(
    gateway: Gateway,
    tables: Tables,
    *,
    instance_id: str,
    app: str,
    release: str,
    rollout: str = "",
    phase: Phase,
    status: PhaseStatus,
    detail: str = "",
    at: datetime | None = None,
    started_at: datetime | None = None,
) -> None:
    """Write an instance's latest phase, as the boot agent does (keyed by its ARN in the
    gateway's region and account)."""
    region, account = await gateway.region(), await gateway.account_id()
    values: dict[str, ItemValue] = {
        "instance_arn": instance_arn(region, account, instance_id),
        "instance_id": instance_id,
        "app": app,
        "release": release,
        "rollout": rollout,
        "phase": phase.value,
        "status": status.value,
        "detail": detail,
        "updated_at": iso(at or datetime.now(UTC)),
        "started_at": iso(started_at) if started_at else None,
    }
    await gateway.call("dynamodb", "put_item", TableName=tables.instances, Item=to_item(values))
