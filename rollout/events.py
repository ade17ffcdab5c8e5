"""What a rollout reports while it runs: frozen events for both faces, and the final result.

A face subscribes with `async for event in rollout.events()`; the engine never prints.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rollout.ledger.rollout_item import JudgeEvidence
from rollout.ledger.vocabulary import RolloutState
from rollout.model import InstanceView


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutEvent:
    """Base of every event: which rollout, and when."""

    app: str
    rollout_id: str
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True, slots=True, kw_only=True)
class StepStarted(RolloutEvent):
    step: str
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFinished(RolloutEvent):
    step: str
    status: str  # ok | failed | aborted | skipped
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceUpdate(RolloutEvent):
    """One new instance's EC2 state, target health and last boot phase, when any changed."""

    instance: InstanceView


@dataclass(frozen=True, slots=True, kw_only=True)
class GateProgress(RolloutEvent):
    """How many of the group's instances are healthy, and the time left by past boots."""

    group: str
    healthy: int
    wanted: int
    elapsed_seconds: float
    eta_seconds: float | None = None  # None when no past boot is known
    deadline_seconds: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightsChanged(RolloutEvent):
    """The listener's weights after one change, by server group name."""

    weights: Mapping[str, int]
    why: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class BakeProgress(RolloutEvent):
    group: str
    healthy: int
    wanted: int
    remaining_seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class JudgeVerdict(RolloutEvent):
    """The judge's look at the new group's traffic against its baseline (rollout/judge):
    its evidence as the rollout's ledger item keeps it (`judge`), the server groups
    compared (their names), and how long the window the counts cover has run."""

    evidence: JudgeEvidence
    candidate_group: str = ""
    baseline_group: str = ""
    window_seconds: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice(RolloutEvent):
    """Something a person should see that is not a step: a cleanup, a retry, a warning."""

    message: str
    level: str = "info"  # info | warning
    source: str = ""  # "notify" for a notifier's failure (the CLI puts those on stderr)


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutFailed(RolloutEvent):
    """Why the rollout failed (the AWS error or the boot agent's reason)."""

    step: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutFinished(RolloutEvent):
    state: str  # succeeded | failed | rolled_back | aborted | detached
    outcome: str = ""


@dataclass(frozen=True, slots=True)
class RolloutResult:
    """How a rollout ended; `state` is one of the ledger's final states or `detached`."""

    app: str
    rollout_id: str
    state: str
    from_release: str
    to_release: str
    strategy: str
    outcome: str = ""
    reason: str = ""
    failed_step: str = ""
    weights_history: tuple[Mapping[str, int], ...] = ()

    @property
    def ok(self) -> bool:
        """The release serves as asked: succeeded, or left detached on purpose (`--no-wait`),
        not detached by a failure (a retire that stopped, a flip back refused)."""
        return self.state == RolloutState.SUCCEEDED or (
            self.state == RolloutState.DETACHED and not self.reason
        )


class EventStream:
    """A fan-out of events to any number of subscribers; closing ends every iteration."""

    def __init__(self) -> None:
        self._queues: list[asyncio.Queue[RolloutEvent | None]] = []
        self._history: list[RolloutEvent] = []
        self._closed = False

    def emit(self, event: RolloutEvent) -> None:
        self._history.append(event)
        for q in self._queues:
            q.put_nowait(event)

    def close(self) -> None:
        self._closed = True
        for q in self._queues:
            q.put_nowait(None)

    @property
    def history(self) -> tuple[RolloutEvent, ...]:
        return tuple(self._history)

    async def subscribe(self, *, replay: bool = True) -> AsyncIterator[RolloutEvent]:
        """Every event from now (and, with `replay`, those already emitted) until closed."""
        q: asyncio.Queue[RolloutEvent | None] = asyncio.Queue()
        if replay:
            for event in self._history:
                q.put_nowait(event)
        if self._closed:
            q.put_nowait(None)
        self._queues.append(q)
        try:
            while True:
                item = await q.get()
                if item is None:
                    return
                yield item
        finally:
            self._queues.remove(q)
