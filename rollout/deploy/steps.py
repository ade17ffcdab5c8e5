"""What a strategy may do to a rollout: the steps protocol (ARCHITECTURE §4).

The strategies (`rollout.deploy.strategies`) bring a new group into traffic through these
operations only; the runner (`rollout.deploy.runner.Rollout`) implements them, recording
each step and each change on the ledger. A strategy never writes the rollout's item or its
state itself, so it can be run against any object with these operations (a test's fake).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from rollout.config import RolloutSettings
from rollout.deploy.plan import RolloutPlan
from rollout.events import RolloutResult
from rollout.ledger.rollout_item import Step
from rollout.ledger.vocabulary import RolloutState, StepName
from rollout.model import Capacity, ServerGroup


@dataclass(frozen=True, slots=True)
class GroupNow:
    """A server group as AWS holds it now: its capacity and its live instances' ids
    (`InService` or `Pending`)."""

    capacity: Capacity
    live: tuple[str, ...]


class RolloutSteps(Protocol):
    """The operations a strategy runs a rollout with."""

    @property
    def plan(self) -> RolloutPlan:
        """The rollout's plan."""
        ...

    @property
    def settings(self) -> RolloutSettings:
        """The strategies' timers and shares."""
        ...

    @property
    def steps(self) -> Sequence[Step]:
        """Every step recorded so far, oldest first (a resumed rollout's from the ledger)."""
        ...

    @property
    def new(self) -> ServerGroup | None:
        """The new server group as last recorded, None before it is launched."""
        ...

    @property
    def shifted(self) -> bool:
        """Whether the new group has had traffic."""
        ...

    @property
    def weights_history(self) -> Sequence[Mapping[str, int]]:
        """The listener's weights by group name after each change, oldest first."""
        ...

    def step(self, name: StepName, detail: str = "") -> AbstractAsyncContextManager[Step]:
        """Check abort, record the step as running, and on leaving as how it ended."""
        ...

    async def check_abort(self) -> None:
        """Raise RolloutStop when an abort (or rollback) was requested, LeaseLost when the
        deploy lock was lost."""
        ...

    async def launch(self, capacity: Capacity) -> ServerGroup:
        """Create the new server group at `capacity`, recorded as the new group."""
        ...

    async def gate(self, group: ServerGroup, wanted: int) -> None:
        """Return once `wanted` instances of `group` are healthy; RolloutStop otherwise."""
        ...

    async def watch(self, group: ServerGroup, wanted: int, seconds: float, what: str) -> None:
        """Watch `group` in traffic for `seconds`; RolloutStop(rollback) when it falls short."""
        ...

    async def shift(self, weights: Mapping[str, int], why: str) -> None:
        """One listener change to these weights (by group name), recorded."""
        ...

    async def scale(self, group: ServerGroup, capacity: Capacity) -> ServerGroup:
        """Set the new group's capacity in AWS; the group at that capacity, recorded."""
        ...

    async def record_group(self, group: ServerGroup) -> None:
        """Record `group` as the new group as it stands (a resumed rollout's, read from AWS)."""
        ...

    async def shrink(self, group: ServerGroup, count: int) -> None:
        """Take `count` instances out of the old `group` (deregistered, then terminated)."""
        ...

    async def group_now(self, group: ServerGroup) -> GroupNow | None:
        """The group as AWS holds it now; None when it is gone."""
        ...

    async def healthy(self, group: ServerGroup) -> int:
        """How many of the group's targets are healthy now."""
        ...

    async def retire(self) -> None:
        """Take the old group out of the listener and delete it (the retire step)."""
        ...

    async def finish(self, state: RolloutState, outcome: str, reason: str = "") -> RolloutResult:
        """Record the rollout's end and say how it ended."""
        ...
