"""The console's screens on deterministic fleets: shared by snapshot tests and screenshots.

Each scene is an app over a recorded fleet with a frozen clock, plus the keys that bring
it to the screen worth seeing. `scripts/screenshots.py` renders the same scenes to
`screenshots/`, so the README's pictures and the snapshot tests never drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from console_helpers import recorded_app

from console.app import FreshfleetApp
from console.fleet_source import RecordedSource, demo_snapshot, with_health
from rollout.config import Config
from rollout.model import HealthState, TargetHealth

SIZE = (150, 32)


@dataclass(frozen=True)
class Scene:
    name: str
    about: str
    app: Callable[[], FreshfleetApp]
    keys: tuple[str, ...] = ()
    size: tuple[int, int] = SIZE


def _rollout_fleet() -> FreshfleetApp:
    return recorded_app([demo_snapshot(with_rollout=True, apps=("demo-web", "billing-api"))])


def _unhealthy_fleet() -> FreshfleetApp:
    snap = demo_snapshot()
    down = TargetHealth(
        HealthState.UNHEALTHY,
        "Target.ResponseCodeMismatch",
        "Health checks failed with these codes: [502]",
    )
    for iid in snap.instances:
        snap = with_health(snap, iid, down)
    return recorded_app([snap])


def _production() -> FreshfleetApp:
    snap = replace(demo_snapshot(), backend="account 123456789012 us-east-1")
    return recorded_app(
        [snap],
        config=Config(production_accounts=("123456789012",)),
        account="123456789012",
        label="account 123456789012 us-east-1",
    )


def _failing_polls() -> FreshfleetApp:
    source = RecordedSource(
        [demo_snapshot()],
        fail_on=frozenset(range(1, 100_000)),
        error=RuntimeError("ThrottlingException: Rate exceeded"),
    )
    return recorded_app(source)


SCENES: tuple[Scene, ...] = (
    Scene("fleet", "the fleet during a rollout: v2 launching beside v1", _rollout_fleet),
    Scene("help", "? lists every key with its id", _rollout_fleet, ("question_mark",)),
    Scene(
        "filter",
        "/ filters by any column (here: unhealthy)",
        _rollout_fleet,
        ("slash", *"unhealthy", "enter"),
    ),
    Scene(
        "instance",
        "enter opens an instance and its console output",
        _rollout_fleet,
        ("down", "enter"),
    ),
    Scene("fail-open", "every target unhealthy: flagged", _unhealthy_fleet),
    Scene("production", "a production account: red banner, read-only", _production),
    Scene("poll-error", "failing polls turn the freshness into a warning", _failing_polls),
)


async def settle(app: FreshfleetApp, pilot: object, scene: Scene) -> None:
    """Wait for the first poll (and, for poll-error, the failure), then press the keys."""
    from console_helpers import wait_for

    table = app.fleet_screen.table
    await wait_for(pilot, lambda: table.snapshot is not None, what="the first poll")
    if scene.name == "poll-error":
        await wait_for(pilot, lambda: app.fleet_screen.bar.error, what="the poll error")
    for key in scene.keys:
        await pilot.press(key)  # type: ignore[attr-defined]
    if scene.name == "instance":
        from textual.widgets import Log

        await wait_for(
            pilot, lambda: len(app.screen.query_one(Log).lines) > 2, what="console output"
        )
    await pilot.pause()  # type: ignore[attr-defined]
