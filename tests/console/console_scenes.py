"""The console's screens on deterministic fleets: shared by snapshot tests and screenshots.

Each scene is an app over a recorded fleet with a frozen clock, plus the keys that bring
it to the screen worth seeing. `scripts/screenshots.py` renders the same scenes to
`screenshots/`, so the README's pictures and the snapshot tests never drift apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from console_helpers import recorded_app
from textual.screen import Screen

from console.tui.app import FreshfleetApp
from console.tui.fleet_source import RecordedSource
from console.tui.rollout_view import RolloutView
from console.tui.screens.dialogs import (
    Confirm,
    ResumeOrRollback,
    RollbackChoice,
    StayOrDetach,
    plan_table,
)
from console.tui.screens.rollout import RolloutScreen
from rollout import events as ev
from rollout.config import Config, RolloutSettings
from rollout.deploy import Estimate, FlipBack, FreshDeploy, RollbackOptions
from rollout.ledger.history import BootDurations
from rollout.ledger.rollout_item import JudgeEvidence, RolloutItem, Step
from rollout.ledger.timestamps import iso
from rollout.model import (
    HealthState,
    InstanceState,
    InstanceView,
    Phase,
    PhaseStatus,
    Release,
    TargetHealth,
)
from tests.fixtures.fleets import FROZEN_NOW, demo_snapshot, with_health

SIZE = (150, 32)
SMALL = (80, 24)  # the default terminal


@dataclass(frozen=True)
class Scene:
    name: str
    about: str
    app: Callable[[], FreshfleetApp]
    keys: tuple[str, ...] = ()
    size: tuple[int, int] = SIZE
    push: Callable[[FreshfleetApp], Screen[object]] | None = None


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


def _production_deploys() -> FreshfleetApp:
    snap = replace(demo_snapshot(), backend="account 123456789012 us-east-1")
    return recorded_app(
        [snap],
        config=Config(production_accounts=("123456789012",)),
        allow_deploy=True,
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


RID = "20261127-115800-c3d4"
OLD, NEW = "demo-web-20261126-091500-a1b2", f"demo-web-{RID}"


def _at(seconds: float) -> object:
    return FROZEN_NOW - timedelta(seconds=60) + timedelta(seconds=seconds)


def failed_rollout_events() -> list[ev.RolloutEvent]:
    """v3 never turns healthy: the gate fails, the new group is deleted (old fleet untouched)."""
    base = {"app": "demo-web", "rollout_id": RID}
    out: list[ev.RolloutEvent] = [
        ev.StepStarted(**base, at=_at(0), step="plan", detail="v1 -> v3"),
        ev.StepFinished(**base, at=_at(1), step="plan", status="ok"),
        ev.StepStarted(**base, at=_at(1), step="launch", detail=f"{NEW}: min 3 / max 3"),
        ev.StepFinished(**base, at=_at(4), step="launch", status="ok"),
        ev.StepStarted(**base, at=_at(4), step="gate", detail="3 instances healthy"),
    ]
    for n, iid in enumerate(("i-0a1b2c3d4e5f60718", "i-1b2c3d4e5f6071829", "i-2c3d4e5f607182930")):
        out.append(
            ev.InstanceUpdate(
                **base,
                at=_at(10 + n),
                instance=InstanceView(
                    instance_id=iid,
                    group=NEW,
                    state=InstanceState.RUNNING,
                    health=HealthState.UNHEALTHY,
                    health_reason="Target.ResponseCodeMismatch",
                    phase=Phase.HEALTH,
                    phase_status=PhaseStatus.OK,
                    detail="deployed",
                ),
            )
        )
    for t, healthy in enumerate((0, 0, 0, 0, 0, 0)):
        out.append(
            ev.GateProgress(
                **base,
                at=_at(12 + t),
                group=NEW,
                healthy=healthy,
                wanted=3,
                elapsed_seconds=8.0 + t,
                eta_seconds=20.0,
                deadline_seconds=120.0,
            )
        )
    out += [
        ev.WeightsChanged(**base, at=_at(20), weights={OLD: 100, NEW: 0}, why="plan"),
        ev.StepFinished(
            **base, at=_at(50), step="gate", status="failed", detail="0/3 healthy at the deadline"
        ),
        ev.RolloutFailed(
            **base,
            at=_at(50),
            step="gate",
            reason="i-0a1b2c3d4e5f60718 unhealthy: Target.ResponseCodeMismatch",
        ),
        ev.StepStarted(**base, at=_at(50), step="cleanup", detail="delete the new server group"),
        ev.StepFinished(**base, at=_at(55), step="cleanup", status="ok"),
        ev.RolloutFinished(
            **base, at=_at(55), state="failed", outcome="v1 still serves; the new group was deleted"
        ),
    ]
    return out


async def _replay(events: list[ev.RolloutEvent]) -> AsyncIterator[ev.RolloutEvent]:
    for event in events:
        yield event


async def _canned_tail(instance_id: str) -> str:
    return "\n".join(
        [
            f"freshfleet-boot 2026-11-27T11:59:0{n}Z {phase} ok"
            for n, phase in enumerate(("fetch", "verify", "extract", "build", "run"))
        ]
        + ["freshfleet-boot 2026-11-27T11:59:06Z health ok deployed"]
    )


def _rollout_screen(app: FreshfleetApp) -> Screen[object]:
    events = failed_rollout_events()
    return RolloutScreen(
        RolloutView("demo-web", RID),
        lambda: _replay(events),
        clock=lambda: FROZEN_NOW,
        console_output=_canned_tail,
    )


def live_rollout_events() -> list[ev.RolloutEvent]:
    """v2 is in traffic and baking: v1's group is retained at weight 0 for a flip back."""
    base = {"app": "demo-web", "rollout_id": RID}
    ids = ("i-0a1b2c3d4e5f60718", "i-1b2c3d4e5f6071829", "i-2c3d4e5f607182930")
    out: list[ev.RolloutEvent] = [
        ev.StepStarted(**base, at=_at(0), step="plan", detail="v1 -> v2"),
        ev.StepFinished(**base, at=_at(0), step="plan", status="ok"),
        ev.StepStarted(**base, at=_at(0), step="launch", detail=f"{NEW}: min 3 / max 3"),
        ev.StepFinished(**base, at=_at(3), step="launch", status="ok"),
        ev.StepStarted(**base, at=_at(3), step="gate", detail="3 instances healthy"),
    ]
    for t, healthy in enumerate((0, 0, 1, 2, 3)):
        out.append(
            ev.GateProgress(
                **base,
                at=_at(5 + 3 * t),
                group=NEW,
                healthy=healthy,
                wanted=3,
                elapsed_seconds=2.0 + 3 * t,
                eta_seconds=15.0,
                deadline_seconds=900.0,
            )
        )
    for n, iid in enumerate(ids):
        out.append(
            ev.InstanceUpdate(
                **base,
                at=_at(12 + n),
                instance=InstanceView(
                    instance_id=iid,
                    group=NEW,
                    state=InstanceState.RUNNING,
                    health=HealthState.HEALTHY,
                    phase=Phase.HEALTH,
                    phase_status=PhaseStatus.OK,
                    detail="deployed",
                ),
            )
        )
    out += [
        ev.StepFinished(**base, at=_at(18), step="gate", status="ok"),
        ev.StepStarted(**base, at=_at(18), step="shift", detail=f"{NEW} 100 %"),
        ev.WeightsChanged(**base, at=_at(19), weights={NEW: 100, OLD: 0}, why="cutover"),
        ev.StepFinished(**base, at=_at(19), step="shift", status="ok"),
        ev.StepStarted(**base, at=_at(19), step="bake", detail=f"600 s watching {NEW}"),
        ev.BakeProgress(
            **base, at=_at(59), group=NEW, healthy=3, wanted=3, remaining_seconds=560.0
        ),
    ]
    return out


def judged_rollout_events() -> list[ev.RolloutEvent]:
    """v5 is healthy but ten times slower: the judge flips it back during the bake."""
    base = {"app": "demo-web", "rollout_id": RID}
    out = [
        replace(e, detail="v1 -> v5") if isinstance(e, ev.StepStarted) and e.step == "plan" else e
        for e in live_rollout_events()
        if not isinstance(e, ev.BakeProgress)
    ]
    looks = [
        (5, (48, 0, 96.0), (45, 0, 14.0), "undecided"),
        (10, (101, 0, 104.0), (96, 0, 15.0), "fail"),
    ]
    for seconds, new, old, verdict in looks:
        reason = (
            "waiting for evidence: new group 48 and baseline 45 requests (a verdict needs 50 each)"
            if verdict == "undecided"
            else "new group latency 104 ms vs baseline 15 ms (6.9×) (p90); 5xx 0.0 % vs 0.0 %"
        ) + " (baseline: the same time before the shift)"
        out.append(
            ev.JudgeVerdict(
                **base,
                at=_at(19 + seconds),
                evidence=JudgeEvidence(
                    verdict=verdict,
                    during="bake",
                    reason=reason,
                    candidate_requests=new[0],
                    candidate_errors=new[1],
                    candidate_latency_ms=new[2],
                    baseline_requests=old[0],
                    baseline_errors=old[1],
                    baseline_latency_ms=old[2],
                    latency_stat="p90",
                ),
                candidate_group=NEW,
                baseline_group=OLD,
                window_seconds=float(seconds),
            )
        )
    why = f"the judge during the bake: {reason}"
    out += [
        ev.StepFinished(**base, at=_at(29), step="bake", status="failed", detail=why),
        ev.RolloutFailed(**base, at=_at(29), step="bake", reason=why),
        ev.StepStarted(**base, at=_at(29), step="rollback", detail=f"traffic back to {OLD}"),
        ev.WeightsChanged(**base, at=_at(30), weights={OLD: 100, NEW: 0}, why="flip back"),
        ev.StepFinished(**base, at=_at(31), step="rollback", status="ok"),
        ev.RolloutFinished(**base, at=_at(31), state="rolled_back", outcome="v1 serves again"),
    ]
    return out


def _judged_rollout_screen(app: FreshfleetApp) -> Screen[object]:
    events = judged_rollout_events()
    return RolloutScreen(
        RolloutView("demo-web", RID),
        lambda: _replay(events),
        clock=lambda: FROZEN_NOW,
        console_output=_canned_tail,
    )


def _live_rollout_screen(app: FreshfleetApp) -> Screen[object]:
    events = live_rollout_events()
    return RolloutScreen(
        RolloutView("demo-web", RID),
        lambda: _replay(events),
        clock=lambda: FROZEN_NOW,
        console_output=_canned_tail,
    )


def _past_rollouts() -> tuple[RolloutItem, ...]:
    """v1 -> v2 succeeded at 11:42; its shift took 1.4 s and the retire 8 s."""
    start = FROZEN_NOW - timedelta(minutes=30)

    def step(name: str, a: float, b: float) -> Step:
        return Step(
            name, "ok", iso(start + timedelta(seconds=a)), iso(start + timedelta(seconds=b))
        )

    steps = (
        step("launch", 0, 3),
        step("gate", 3, 44),
        step("shift", 44, 45.4),
        step("bake", 45.4, 645.4),
        step("retire", 645.4, 653.4),
    )
    return (
        RolloutItem(
            app="demo-web",
            rollout_id="20261127-112800-ddd4",
            from_release="v1",
            to_release="v2",
            strategy="blue-green",
            state="succeeded",
            started_at=iso(start),
            finished_at=iso(start + timedelta(seconds=653.4)),
            steps=steps,
        ),
    )


_BOOTS = BootDurations({"v1": (41.0, 44.5, 39.2, 52.0, 47.3), "v2": (38.1, 40.0, 42.7)})
_RELEASES = [
    Release("demo-web", v, url="", sha256="", created_by="alice@laptop:4242") for v in ("v1", "v3")
]


def _rollback_during_the_bake(app: FreshfleetApp) -> Screen[object]:
    options = RollbackOptions(
        app="demo-web",
        serving="v2",
        flip_back=FlipBack(
            True,
            Estimate(1.4, "median of 1 recorded shift"),
            rollout_id=RID,
            group=OLD,
            release="v1",
            healthy=3,
            wanted=3,
        ),
        fresh=FreshDeploy(
            False,
            "v1",
            ("v1", "v3"),
            f"rollout {RID} is unfinished: flip it back or abort it first",
        ),
        boots=_BOOTS,
        records=_past_rollouts(),
        settings=RolloutSettings(),
    )
    return RollbackChoice(options, _RELEASES)


def _rollback_after_the_bake(app: FreshfleetApp) -> Screen[object]:
    options = RollbackOptions(
        app="demo-web",
        serving="v2",
        flip_back=FlipBack(
            False,
            Estimate(1.4, "median of 1 recorded shift"),
            "no retained group: the bake ended at 11:39",
        ),
        fresh=FreshDeploy(True, "v1", ("v1", "v3")),
        boots=_BOOTS,
        records=_past_rollouts(),
        settings=RolloutSettings(),
    )
    return RollbackChoice(options, _RELEASES)


def _resume_offer(app: FreshfleetApp) -> Screen[object]:
    summary = (
        "v1 → v2 (blue-green), detached by alice@laptop:4242 after: plan, launch, gate, "
        "shift, bake.\nResume finishes it from its last step; Roll back or Abort undoes it "
        "(traffic flips back if it moved; the new group is deleted)."
    )
    return ResumeOrRollback("demo-web", RID, summary)


def _stay_or_detach(app: FreshfleetApp) -> Screen[object]:
    return StayOrDetach("demo-web", RID)


def _production_confirm(app: FreshfleetApp) -> Screen[object]:
    return Confirm(
        "Abort demo-web's rollout?",
        "Before the shift the new group is deleted and the old fleet never changed; "
        "after it, traffic flips back.",
        yes="Abort",
        type_to_confirm="demo-web",
    )


def _plan_dialog(app: FreshfleetApp) -> Screen[object]:
    rows = [
        ("release", "v1", "v2"),
        ("LT version", "freshfleet-demo-web #2", "freshfleet-demo-web #3"),
        ("user data sha256", "3f2a9c1d0b7e", "8e4d2b6a1c9f"),
        ("capacity", "min 3 / max 3 / desired 3", "min 3 / max 3 / desired 3"),
        ("server group", OLD, NEW),
        ("strategy", "", "blue-green"),
    ]
    return Confirm("Deploy demo-web v2 (blue-green)?", plan_table(rows), yes="Deploy")


def _history(app: FreshfleetApp) -> Screen[object]:
    from console.tui.screens.history import HistoryScreen

    def record(rid: str, frm: str, to: str, state: str, took: float, why: str) -> RolloutItem:
        start = FROZEN_NOW - timedelta(hours=int(rid[-1]))
        return RolloutItem(
            app="demo-web",
            rollout_id=f"20261127-0{rid[-1]}0000-{rid}",
            from_release=frm,
            to_release=to,
            strategy="blue-green",
            state=state,
            owner="alice@laptop:4242",
            started_at=iso(start),
            finished_at=iso(start + timedelta(seconds=took)),
            outcome=why,
        )

    records = [
        record("aaa1", "", "v1", "succeeded", 95, "v1 serves; the old group is retired"),
        record("bbb2", "v1", "v3", "failed", 140, "gate: 0/3 healthy at the deadline"),
        record("ccc3", "v1", "v2", "rolled_back", 70, "rollback requested during the bake"),
        record("ddd4", "v1", "v2", "succeeded", 88, "v2 serves; the old group is retired"),
    ]
    durations = BootDurations(
        {"v1": (41.0, 44.5, 39.2, 52.0, 47.3), "v2": (38.1, 40.0, 42.7, 39.9, 61.0, 40.4)}
    )
    return HistoryScreen("demo-web", records, durations)


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
    Scene("history", "h: who deployed what, when, and boot times", _rollout_fleet, push=_history),
    Scene("deploy-plan", "d: the plan's diff, Cancel focused", _rollout_fleet, push=_plan_dialog),
    Scene(
        "rollout-failed",
        "a failed rollout: reason, steps, instances, log tail",
        _rollout_fleet,
        push=_rollout_screen,
        size=(150, 40),
    ),
    Scene(
        "rollout-live",
        "a rollout baking: v2 at 100 %, v1 retained at 0 %, the bake's countdown",
        _rollout_fleet,
        push=_live_rollout_screen,
        size=(150, 40),
    ),
    Scene(
        "rollout-judged",
        "v5 healthy but slow: the judge's evidence flips it back during the bake",
        _rollout_fleet,
        push=_judged_rollout_screen,
        size=(150, 40),
    ),
    Scene(
        "rollback-flip",
        "r during the bake: flip back in seconds; a fresh deploy must wait",
        _rollout_fleet,
        push=_rollback_during_the_bake,
    ),
    Scene(
        "rollback-fresh",
        "r after the bake: no retained group; a fresh deploy of v1 with its ETA",
        _rollout_fleet,
        push=_rollback_after_the_bake,
    ),
    Scene(
        "production-confirm",
        "production: the app name must be typed; the button stays disabled until then",
        _production_deploys,
        push=_production_confirm,
    ),
    Scene(
        "resume-offer",
        "on start: a rollout left detached is offered to resume or roll back",
        _rollout_fleet,
        push=_resume_offer,
    ),
    Scene(
        "stay-or-detach",
        "q mid-rollout: stay (focused) or detach for `freshfleet resume`",
        _rollout_fleet,
        push=_stay_or_detach,
    ),
    Scene(
        "fleet-80x24",
        "an 80×24 terminal: instance, EC2 state, target health, release, boot stay",
        _rollout_fleet,
        size=SMALL,
    ),
    Scene(
        "deploy-plan-80x24",
        "the plan's diff fits an 80×24 terminal",
        _rollout_fleet,
        push=_plan_dialog,
        size=SMALL,
    ),
    Scene(
        "rollback-80x24",
        "the ways back fit an 80×24 terminal, buttons included",
        _rollout_fleet,
        push=_rollback_during_the_bake,
        size=SMALL,
    ),
    Scene(
        "history-80x24",
        "the history on an 80×24 terminal: id, release, state, took, the outcome whole",
        _rollout_fleet,
        push=_history,
        size=SMALL,
    ),
    Scene(
        "rollout-failed-80x24",
        "a failed rollout on an 80×24 terminal: every instance on one line, its id whole",
        _rollout_fleet,
        push=_rollout_screen,
        size=SMALL,
    ),
)


async def settle(app: FreshfleetApp, pilot: object, scene: Scene) -> None:
    """Wait for the first poll (and, for poll-error, the failure), then press the keys."""
    from console_helpers import wait_for
    from textual.widgets import Log

    table = app.fleet_screen.table
    await wait_for(pilot, lambda: table.snapshot is not None, what="the first poll")
    if scene.name == "poll-error":
        await wait_for(pilot, lambda: app.fleet_screen.bar.error, what="the poll error")
    for key in scene.keys:
        await pilot.press(key)  # type: ignore[attr-defined]
    if scene.push is not None:
        pushed = scene.push(app)
        await app.push_screen(pushed)
        if isinstance(pushed, RolloutScreen):
            view = pushed.view
            await wait_for(
                pilot, lambda: view.finished is not None or view.bake is not None, what="replay"
            )
            if view.failure is not None and view.failing_instance():
                await wait_for(
                    pilot, lambda: len(pushed.query_one(Log).lines) > 2, what="the log tail"
                )
            pushed.redraw()
    if scene.name == "instance":
        await wait_for(
            pilot, lambda: len(app.screen.query_one(Log).lines) > 2, what="console output"
        )
    await pilot.pause()  # type: ignore[attr-defined]
