"""Where the console's fleet comes from: a protocol and its two implementations.

`ObserverSource` polls AWS through the engine's observer; `RecordedSource` replays
snapshots (or a synthetic fleet of any size) so tests, snapshots and benchmarks are
deterministic. The screen asks for one update at a time and re-arms when it finishes,
so a source never has two polls in flight.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rollout.fleet.diff import diff_snapshots
from rollout.model import FleetDiff, FleetSnapshot


@dataclass(frozen=True, slots=True)
class FleetUpdate:
    """One poll's result: the new snapshot and what changed since the previous one."""

    snapshot: FleetSnapshot
    diff: FleetDiff


class FleetSource(Protocol):
    """Something that can be polled for the fleet, one poll at a time."""

    async def poll(self) -> FleetUpdate:
        """The fleet now, and the diff from the last poll (everything, the first time)."""
        ...

    async def aclose(self) -> None:
        """Release clients; the source is not polled again."""
        ...


class RecordedSource:
    """Replays snapshots in order (the last one repeats), diffing each against the last.

    `frames` may also be a function of the tick number, for fleets that change forever
    (benchmarks); `fail_on` ticks raise `error` instead, to show a failing poll.
    """

    def __init__(
        self,
        frames: Sequence[FleetSnapshot] | Callable[[int], FleetSnapshot],
        *,
        fail_on: frozenset[int] = frozenset(),
        error: Exception | None = None,
    ) -> None:
        self._frames = frames
        self._tick = 0
        self._last: FleetSnapshot | None = None
        self._fail_on = fail_on
        self._error = error or RuntimeError("recorded failure")
        self.polls = 0

    async def poll(self) -> FleetUpdate:
        tick = self._tick
        self._tick += 1
        self.polls += 1
        if tick in self._fail_on:
            raise self._error
        if callable(self._frames):
            snap = self._frames(tick)
        else:
            snap = self._frames[min(tick, len(self._frames) - 1)]
        diff = diff_snapshots(self._last, snap)
        self._last = snap
        return FleetUpdate(snap, diff)

    async def aclose(self) -> None:
        return None


class ObserverSource:
    """The live fleet: the engine's `FleetObserver` over a Gateway, one tick per poll."""

    def __init__(self, observer: Any, on_close: Callable[[], Awaitable[None]] | None = None):
        self._observer = observer
        self._on_close = on_close

    async def poll(self) -> FleetUpdate:
        snapshot, diff = await self._observer.tick()
        return FleetUpdate(snapshot, diff)

    async def aclose(self) -> None:
        if self._on_close is not None:
            await self._on_close()
