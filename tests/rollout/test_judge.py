"""A release is judged on its traffic: with steady requests through the demo's load balancer,
v4 (healthy, but a fifth of its requests fail) is rolled back during its canary watch, v5
(healthy, ten times slower) is flipped back during its bake, a named alarm in ALARM rolls
back, and v2 goes through with the judge on. Without the judge, v4 would have stayed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from localaws.testing import start_test_localaws

TRAFFIC = {
    "FRESHFLEET_LOCALAWS__TRAFFIC_RPS": "40",
}
JUDGE = {
    "FRESHFLEET_JUDGE__PERIOD_SECONDS": "1",
    "FRESHFLEET_JUDGE__MIN_REQUESTS": "20",
    "FRESHFLEET_JUDGE__LOOK_SECONDS": "0.5",
    "FRESHFLEET_ROLLOUT__CANARY_WATCH_SECONDS": "25",
}


@pytest.fixture(scope="module")
def traffic_localaws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One demo with 40 requests a second through its load balancer, for this module."""
    with start_test_localaws(Path(tmp_path_factory.mktemp("judged")), env=TRAFFIC) as la:
        yield la


@pytest.fixture
def judged(traffic_localaws: Any, fleet_on: Callable[..., Any]) -> Any:
    return fleet_on(traffic_localaws, **JUDGE)


def test_v4_is_rolled_back_during_its_canary_watch_with_the_numbers(judged):
    run = judged.cli("deploy", "demo-web", "v4", "--strategy", "canary", "-y")
    assert run.code == 1, run.out + run.err
    rollout = judged.latest()
    assert rollout["state"] == "rolled_back", rollout["reason"]
    assert "the judge during the canary watch: canary 5xx" in rollout["reason"]
    assert "vs baseline 0.0 %" in rollout["reason"] and "p < 0.001" in rollout["reason"]
    watch = next(s for s in rollout["steps"] if s["name"] == "watch")
    assert watch["status"] == "failed"
    assert rollout["judge"]["verdict"] == "fail" and rollout["judge"]["candidate"]["errors"] > 0
    assert "judge" in run.out  # the CLI printed the verdicts
    assert judged.serving() == {"v1": 100}
    judged.wait_serving_healthy(3)
    assert judged.leftovers() == []


def test_v5_is_flipped_back_during_its_bake_on_latency(judged):
    run = judged.cli("deploy", "demo-web", "v5", "-y", "--bake", "30")
    assert run.code == 1, run.out + run.err + str(judged.latest().get("judge"))
    rollout = judged.latest()
    assert rollout["state"] == "rolled_back", rollout["reason"]
    assert "the judge during the bake: new group latency" in rollout["reason"]
    assert "(p90)" in rollout["reason"]
    assert judged.serving() == {"v1": 100}


def test_v2_goes_through_with_the_judge_watching(judged):
    run = judged.cli("deploy", "demo-web", "v2", "--strategy", "canary", "-y", "--bake", "4")
    assert run.code == 0, run.out + run.err
    rollout = judged.latest()
    assert rollout["state"] == "succeeded"
    assert rollout["judge"]["verdict"] == "pass", rollout["judge"]


def test_without_the_judge_v4_would_have_stayed(judged):
    run = judged.cli("deploy", "demo-web", "v4", "--strategy", "canary", "-y", "--no-judge")
    assert run.code == 0, run.out + run.err
    assert judged.serving() == {"v4": 100}


def test_a_named_alarm_in_alarm_rolls_the_canary_back(judged, tmp_path):
    cw = judged.aws("cloudwatch")
    cw.put_metric_alarm(
        AlarmName="demo-web-orders-failing",
        MetricName="OrdersFailed",
        Namespace="DemoWeb",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cw.set_alarm_state(
        AlarmName="demo-web-orders-failing", StateValue="ALARM", StateReason="orders failing"
    )
    (tmp_path / "freshfleet.toml").write_text(
        '[judge.alarms]\n"demo-web" = ["demo-web-orders-failing"]\n'
    )
    run = judged.cli("deploy", "demo-web", "v2", "--strategy", "canary", "-y")
    assert run.code == 1, run.out + run.err
    reason = judged.latest()["reason"]
    assert "alarm demo-web-orders-failing is in ALARM: orders failing" in reason
