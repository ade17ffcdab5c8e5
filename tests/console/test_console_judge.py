"""The rollout screen shows what the judge sees: per judged group, requests/s, 5xx % and
latency as sparklines beside the healthy-target chart, and the judge's verdict with its
evidence; the history keeps that evidence once the rollout is over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

from console_helpers import recorded_app, screen_text, wait_for
from textual.widgets import Sparkline

from console.tui.rollout_view import RolloutView, TrafficSeries
from console.tui.screens.history import HistoryScreen
from console.tui.screens.rollout import RolloutScreen
from rollout import events as ev
from rollout.ledger.history import BootDurations
from rollout.ledger.rollout_item import JudgeEvidence, RolloutItem
from tests.fixtures.fleets import FROZEN_NOW, demo_snapshot

RID = "20261127-115800-c3d4"
NEW, OLD = f"demo-web-{RID}", "demo-web-20261127-100000-a1b2"
BASE = {"app": "demo-web", "rollout_id": RID}


def look(
    seconds: float,
    new: tuple[int, int, float],
    old: tuple[int, int, float],
    verdict: str,
    reason: str,
) -> ev.JudgeVerdict:
    return ev.JudgeVerdict(
        **BASE,
        at=FROZEN_NOW + timedelta(seconds=seconds),
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
        window_seconds=seconds,
    )


def test_a_series_is_the_rate_between_looks_and_starts_again_on_a_new_window():
    series = TrafficSeries()
    series.add(100, 0, 10.0, 10.0)
    series.add(300, 20, 12.0, 20.0)  # 200 more in 10 s, 20 of them 5xx
    assert series.rps == [10.0, 20.0] and series.error_pct == [0.0, 10.0]
    series.add(50, 0, 9.0, 5.0)  # the bake's window after the canary watch's
    assert series.rps[-1] == 10.0 and series.latency_ms == [10.0, 12.0, 9.0]


async def test_the_rollout_screen_shows_each_groups_traffic_and_the_verdict_with_its_numbers():
    queue: asyncio.Queue[ev.RolloutEvent | None] = asyncio.Queue()

    async def events() -> AsyncIterator[ev.RolloutEvent]:
        while (event := await queue.get()) is not None:
            yield event

    app = recorded_app([demo_snapshot(with_rollout=True)])
    async with app.run_test(size=(150, 45)) as pilot:
        await wait_for(pilot, lambda: app.fleet_screen.table.snapshot is not None)
        screen = RolloutScreen(RolloutView("demo-web", RID), events, clock=lambda: FROZEN_NOW)
        await app.push_screen(screen)
        await queue.put(ev.StepStarted(**BASE, at=FROZEN_NOW, step="bake", detail="30 s"))
        await queue.put(ev.WeightsChanged(**BASE, at=FROZEN_NOW, weights={NEW: 100, OLD: 0}))
        await queue.put(
            ev.BakeProgress(
                **BASE, at=FROZEN_NOW, group=NEW, healthy=3, wanted=3, remaining_seconds=30
            )
        )
        waiting = "waiting for evidence: new group 12 and baseline 11 requests"
        await queue.put(look(1, (12, 0, 95.0), (11, 0, 15.0), "undecided", waiting))
        await queue.put(look(2, (52, 0, 104.0), (50, 0, 16.0), "undecided", waiting))
        slow = "new group latency 107 ms vs baseline 19 ms (5.6×) (p90); 5xx 0.0 % vs 0.0 %"
        await queue.put(look(3, (93, 0, 107.0), (90, 0, 19.0), "fail", slow))
        await wait_for(pilot, lambda: f"traffic {OLD}" in screen_text(app), what="the traffic")
        text = screen_text(app)
        assert "judge fail (bake)" in text and slow in text
        assert f"traffic {NEW}" in text
        assert "41 req/s · 5xx 0.0 % · p90 107 ms" in text  # 93 - 52 requests in a second
        assert "40 req/s · 5xx 0.0 % · p90 19 ms" in text
        latency = screen.query_one(f"#latency-{NEW}", Sparkline)
        assert list(latency.data or []) == [95.0, 104.0, 107.0]
        assert list(screen.query_one(f"#rps-{OLD}", Sparkline).data or []) == [11.0, 39.0, 40.0]
        await queue.put(None)


async def test_the_history_keeps_the_judges_final_evidence():
    item = {
        "app": "demo-web",
        "rollout_id": RID,
        "from_release": "v1",
        "to_release": "v5",
        "strategy": "blue-green",
        "state": "rolled_back",
        "reason": "the judge during the bake: new group latency 107 ms vs baseline 19 ms",
        "judge": {
            "verdict": "fail",
            "during": "bake",
            "reason": "new group latency 107 ms vs baseline 19 ms (5.6×) (p90)",
            "candidate": {"requests": 1210, "errors": 0, "latency_ms": 107.0},
            "baseline": {"requests": 1180, "errors": 0, "latency_ms": 19.0},
            "latency_stat": "p90",
            "p_value": 1.0,
        },
    }
    record = RolloutItem.from_item(item)
    evidence = "fail (bake): new 5xx 0.0 % of 1,210, p90 107 ms · baseline 5xx 0.0 % of 1,180"
    assert record.judge is not None and record.judge.summary.startswith(evidence)
    app = recorded_app([demo_snapshot()])
    async with app.run_test(size=(200, 40)) as pilot:
        await wait_for(pilot, lambda: app.fleet_screen.table.snapshot is not None)
        await app.push_screen(HistoryScreen("demo-web", [record], BootDurations({})))
        await wait_for(pilot, lambda: "judge fail (bake)" in screen_text(app), what="evidence")
        assert evidence in screen_text(app)
