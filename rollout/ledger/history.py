"""Reading the rollouts table: an app's history, the running rollouts, boot durations.

Read-only views of the items the rollout state machine writes (`rollout.ledger.rollouts`),
each read through `RolloutItem.from_item`, which tolerates unknown or missing fields so an
old item never breaks a listing.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rollout.aws.gateway import Gateway
from rollout.config import Tables
from rollout.ledger.codec import ItemValue, from_item, to_item
from rollout.ledger.instances import InstanceBoot
from rollout.ledger.rollout_item import JudgeEvidence, RolloutItem, Step
from rollout.ledger.rollouts import RolloutLedger
from rollout.ledger.timestamps import parse_time
from rollout.ledger.vocabulary import STEP_DONE, UNFINISHED, StepName

# Steps whose span is "launch until every new instance is healthy": the boot time.
_BOOT_SPAN = (StepName.LAUNCH, StepName.GATE)


@dataclass(frozen=True, slots=True)
class RolloutStep:
    """A recorded step (`rollout.ledger.rollouts.Step`) as a listing reads it: its times
    parsed (None when absent or unreadable)."""

    name: str
    status: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    detail: str = ""

    @classmethod
    def of(cls, step: Step) -> RolloutStep:
        """The step with its times parsed."""
        return cls(
            step.name,
            step.status,
            parse_time(step.started_at),
            parse_time(step.finished_at),
            step.detail,
        )

    @property
    def seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


@dataclass(frozen=True, slots=True)
class RolloutRecord:
    """One rollout as the ledger holds it."""

    app: str
    rollout_id: str
    from_release: str
    to_release: str
    strategy: str
    state: str
    owner: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    outcome: str = ""
    reason: str = ""
    abort_requested: bool = False
    steps: tuple[RolloutStep, ...] = ()
    shifted_flag: bool = False  # the item's `shifted`, set by the state machine at the shift
    kind: str = ""  # "" for a rollout; "lock-takeover" for an audit item (`rollout.ledger.lease`)
    judge: JudgeEvidence | None = None  # the judge's last verdict, when one looked

    @classmethod
    def of(cls, item: RolloutItem) -> RolloutRecord:
        """The record of a rollouts-table item, read typed (`RolloutItem.from_item`)."""
        return cls(
            app=item.app,
            rollout_id=item.rollout_id,
            from_release=item.from_release,
            to_release=item.to_release,
            strategy=item.strategy,
            state=item.state,
            owner=item.owner,
            started_at=parse_time(item.started_at),
            finished_at=parse_time(item.finished_at),
            outcome=item.outcome,
            reason=item.reason,
            abort_requested=item.abort_requested,
            steps=tuple(RolloutStep.of(s) for s in item.steps),
            shifted_flag=item.shifted,
            kind=item.kind,
            judge=item.judge,
        )

    @property
    def active(self) -> bool:
        return self.state in UNFINISHED

    @property
    def duration_seconds(self) -> float | None:
        """Start to finish, or None while it runs (or when a time is missing)."""
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    def step(self, name: str) -> RolloutStep | None:
        """The last step of that name."""
        return next((s for s in reversed(self.steps) if s.name == name), None)

    @property
    def shifted(self) -> bool:
        """True once the listener forwards to the new group (the shift step finished ok)."""
        shift = self.step(StepName.SHIFT)
        return self.shifted_flag or (shift is not None and shift.status in STEP_DONE)


def rollout_of(values: Mapping[str, ItemValue]) -> RolloutRecord:
    """A RolloutRecord from a rollouts-table item's plain values."""
    return RolloutRecord.of(RolloutItem.from_item(values))


async def app_history(
    gateway: Gateway, tables: Tables, app: str, *, limit: int | None = None
) -> list[RolloutRecord]:
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
    return [rollout_of(from_item(i)) for i in items]


async def active_rollouts(
    gateway: Gateway, tables: Tables, states: Iterable[str] = UNFINISHED
) -> list[RolloutRecord]:
    """Every rollout of every app in one of `states` (through the state index; a query each)."""
    items = await RolloutLedger(gateway, tables.rollouts).in_states(states)
    return [RolloutRecord.of(i) for i in items]


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
    rollouts: Iterable[RolloutRecord],
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
        if launch and gate and launch.started_at and gate.finished_at and gate.status in STEP_DONE:
            seconds = (gate.finished_at - launch.started_at).total_seconds()
            if seconds >= 0:
                spans.setdefault(r.to_release, []).append(seconds)
    for release, values in spans.items():
        samples.setdefault(release, values)
    return BootDurations({k: tuple(v) for k, v in samples.items()})
