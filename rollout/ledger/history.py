"""Reading the rollouts table: an app's history, the running rollouts, boot durations.

Read-only views of the items the rollout state machine writes (`rollout.ledger.rollouts`),
each read through `RolloutItem.from_item`, which tolerates unknown or missing fields so an
old item never breaks a listing. A listing is of `RolloutItem`s, the rollout as the ledger
holds it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rollout.aws.gateway import Gateway
from rollout.config import Tables
from rollout.ledger.codec import from_item, to_item
from rollout.ledger.instances import InstanceBoot
from rollout.ledger.rollout_item import RolloutItem
from rollout.ledger.rollouts import RolloutLedger
from rollout.ledger.vocabulary import UNFINISHED, StepName

# Steps whose span is "launch until every new instance is healthy": the boot time.
_BOOT_SPAN = (StepName.LAUNCH, StepName.GATE)


async def app_history(
    gateway: Gateway, tables: Tables, app: str, *, limit: int | None = None
) -> list[RolloutItem]:
    """The app's rollouts, newest first (rollout ids sort by time)."""
    params: dict[str, Any] = {
        "TableName": tables.rollouts,
        "KeyConditionExpression": "app = :app",
        "ExpressionAttributeValues": to_item({":app": app}),
        "ScanIndexForward": False,
    }
    if limit:
        out = await gateway.call("dynamodb", "query", Limit=limit, **params)
        items = out.get("Items", [])
    else:
        items = await gateway.paginate("dynamodb", "query", "Items", **params)
    return [RolloutItem.from_item(from_item(i)) for i in items]


async def active_rollouts(
    gateway: Gateway, tables: Tables, states: Iterable[str] = UNFINISHED
) -> list[RolloutItem]:
    """Every rollout of every app in one of `states` (through the state index; a query each)."""
    return await RolloutLedger(gateway, tables.rollouts).in_states(states)


@dataclass(frozen=True, slots=True)
class BootDurations:
    """Seconds from launch to healthy, per release, for the ETA of a rollout's gate."""

    samples: Mapping[str, tuple[float, ...]]

    def typical(self, release: str | None = None) -> float | None:
        """The median for the release, else over all releases; None without samples."""
        values = self.samples.get(release, ()) if release else ()
        if not values:
            values = tuple(v for vs in self.samples.values() for v in vs)
        return statistics.median(values) if values else None

    def longest(self, release: str | None = None) -> float | None:
        """The longest for the release, else over all releases; None without samples."""
        values = self.samples.get(release, ()) if release else ()
        if not values:
            values = tuple(v for vs in self.samples.values() for v in vs)
        return max(values) if values else None


def boot_durations(
    rollouts: Iterable[RolloutItem],
    boots: Iterable[InstanceBoot] = (),
    launched_at: Mapping[str, datetime] | None = None,
) -> BootDurations:
    """Boot durations per release from the instances table and the rollouts' steps.

    An instance that reached `health ok` gives one sample: from its recorded start (or
    its launch time, when known) to that report, so each boot counts once. A rollout
    whose gate passed gives one sample, from the start of its launch step to the end of
    its gate step, for a release none of whose instances gave one.
    """
    samples: dict[str, list[float]] = {}
    spans: dict[str, list[float]] = {}
    for b in boots:
        start = b.started_at or (launched_at or {}).get(b.instance_id)
        if b.final and not b.boot.failed and start is not None:
            seconds = (b.boot.at - start).total_seconds()
            if seconds >= 0:
                samples.setdefault(b.release, []).append(seconds)
    for r in rollouts:
        launch, gate = (r.step(n) for n in _BOOT_SPAN)
        began = launch.started if launch else None
        healthy = gate.finished if gate and gate.done else None
        if began and healthy:
            seconds = (healthy - began).total_seconds()
            if seconds >= 0:
                spans.setdefault(r.to_release, []).append(seconds)
    for release, values in spans.items():
        samples.setdefault(release, values)
    return BootDurations({k: tuple(v) for k, v in samples.items()})
