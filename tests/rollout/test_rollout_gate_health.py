"""The gate on ELB's own semantics: ELB health-checks only target groups a listener forwards
to (the others' targets stay `unused`, Target.NotInUse), so a rollout puts its new group in
the app's forward action at weight 0 before the gate, and the shift changes only weights
(docs/ARCHITECTURE.md §4, step 2)."""

from __future__ import annotations

from typing import Any


def _gate_running(fleet: Any) -> bool:
    steps = fleet.latest().get("steps", []) if fleet.rollouts() else []
    return bool(steps) and steps[-1]["name"] == "gate" and steps[-1]["status"] == "running"


def test_blue_green_v2_is_checked_at_weight_0_through_its_gate_and_passes_it(slow_fleet, until):
    fleet = slow_fleet
    (v1_name, v1), *_ = fleet.groups().items()
    deploy = fleet.spawn("deploy", "demo-web", "v2", "-y")
    seen: set[str] = set()
    try:
        until(lambda: _gate_running(fleet), within=60, what="the gate to start")
        new_tg = next(g["tg"] for name, g in fleet.groups().items() if name != v1_name)
        # In the listener, out of traffic: v1 keeps everything.
        assert fleet.weights() == {v1["tg"]: 100, new_tg: 0}
        assert fleet.serving() == {"v1": 100}

        def gated() -> bool:
            health = fleet.aws("elbv2").describe_target_health(TargetGroupArn=new_tg)
            seen.update(d["TargetHealth"]["State"] for d in health["TargetHealthDescriptions"])
            return not _gate_running(fleet)

        until(gated, within=60, what="the gate to end")
    finally:
        out, err = deploy.communicate(timeout=120)

    assert deploy.returncode == 0, out + err
    assert "unused" not in seen  # ELB checked the new group from the start
    assert "initial" in seen or "healthy" in seen
    rollout = fleet.latest()
    assert rollout["state"] == "succeeded", rollout["reason"]
    flips = [h["weights"] for h in rollout["weights_history"]]
    new = rollout["new_group"]
    assert flips == [{v1_name: 100, new: 0}, {new: 100, v1_name: 0}, {new: 100}]
    assert fleet.serving() == {"v2": 100}
    assert fleet.leftovers() == []
