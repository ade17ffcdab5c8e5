"""The rollout screen's headline names the step running now, the time left to its deadline
and an ETA only while past boots make one; a long failure reason shows once, whole."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

from console_helpers import recorded_app, screen_text, wait_for

from console.tui.rollout_view import RolloutView
from console.tui.screens.rollout import RolloutScreen
from rollout import events as ev
from tests.fixtures.fleets import FROZEN_NOW, demo_snapshot

RID = "20261127-115800-c3d4"
NEW = f"demo-web-{RID}"
BASE = {"app": "demo-web", "rollout_id": RID}


def at(seconds: float):
    return FROZEN_NOW + timedelta(seconds=seconds)


def view_of(*events: ev.RolloutEvent) -> RolloutView:
    view = RolloutView("demo-web", RID)
    for event in events:
        view.apply(event)
    return view


def gate_progress(t: float, elapsed: float, eta: float | None) -> ev.GateProgress:
    return ev.GateProgress(
        **BASE,
        at=at(t),
        group=NEW,
        healthy=1,
        wanted=3,
        elapsed_seconds=elapsed,
        eta_seconds=eta,
        deadline_seconds=120.0,
    )


def test_the_gate_shows_the_time_left_to_its_deadline_and_an_eta_only_while_it_means_one():
    started = ev.StepStarted(**BASE, at=at(0), step="gate")
    early = view_of(started, gate_progress(10, 10.0, 25.0))
    assert early.headline(at(15)) == "gate: 1/3 healthy · 105 s left of 120 s · ETA ~ 20 s"
    # Past the usual boot the engine's ETA is 0: no "ETA 0 s", only the deadline.
    late = view_of(started, gate_progress(60, 60.0, 0.0))
    assert late.headline(at(62)) == "gate: 1/3 healthy · 58 s left of 120 s"
    unknown = view_of(started, gate_progress(5, 5.0, None))
    assert unknown.headline(at(5)) == "gate: 1/3 healthy · 115 s left of 120 s"


def test_the_headline_names_the_step_running_now_not_the_last_gate():
    gate = [
        ev.StepStarted(**BASE, at=at(0), step="gate"),
        gate_progress(10, 10.0, 5.0),
        ev.StepFinished(**BASE, at=at(20), step="gate", status="ok"),
    ]
    retire = view_of(*gate, ev.StepStarted(**BASE, at=at(30), step="retire", detail="old"))
    assert retire.headline(at(34)) == "retire · 4 s"
    watch = view_of(
        *gate,
        ev.StepStarted(**BASE, at=at(21), step="shift"),
        ev.StepFinished(**BASE, at=at(22), step="shift", status="ok"),
        ev.StepStarted(**BASE, at=at(22), step="watch", detail="30 s at 10 %"),
        ev.BakeProgress(**BASE, at=at(25), group=NEW, healthy=1, wanted=1, remaining_seconds=27.0),
    )
    assert watch.headline(at(27)) == "watch: 1/1 healthy · 25 s left"
    assert view_of(*gate).headline(at(21)) == ""  # nothing runs between two steps


async def _replay(events: list[ev.RolloutEvent]) -> AsyncIterator[ev.RolloutEvent]:
    for event in events:
        yield event


async def test_a_long_failure_reason_shows_once_whole_and_is_summarised_in_the_steps():
    parts = [
        f"i-0a1b2c3d4e5f6071{n} running, target unhealthy (Target.ResponseCodeMismatch), "
        "boot health fail: GET http://127.0.0.1:8080/health answered 500 after 30 tries"
        for n in range(6)
    ]
    reason = (
        "gate deadline of 120 s passed with 0 of 3 instances healthy: "
        + "; ".join(parts)
        + " (end of reason)"
    )
    assert len(reason) > 600
    events = [
        ev.StepStarted(**BASE, at=at(0), step="gate", detail="3 instances healthy"),
        ev.StepFinished(**BASE, at=at(120), step="gate", status="failed", detail=reason),
        ev.RolloutFailed(**BASE, at=at(120), step="gate", reason=reason),
        ev.RolloutFinished(
            **BASE, at=at(125), state="failed", outcome="the new server group was deleted"
        ),
    ]
    app = recorded_app([demo_snapshot(with_rollout=True)])
    async with app.run_test(size=(150, 50)) as pilot:
        await wait_for(pilot, lambda: app.fleet_screen.table.snapshot is not None)
        screen = RolloutScreen(
            RolloutView("demo-web", RID), lambda: _replay(events), clock=lambda: at(130)
        )
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.view.finished is not None, what="the replay")
        screen.redraw()
        await pilot.pause()
        shown = " ".join(screen_text(app).split())
        assert shown.count("(end of reason)") == 1, shown
        assert shown.count("i-0a1b2c3d4e5f60715 running") == 1, shown
        assert "gate deadline of 120 s passed with 0 of 3 instances healthy (below)" in shown
