"""A canary or rolling rollout killed (SIGKILL) part way into traffic, then resumed: it goes
on from its last recorded step to the end; a state the ledger and AWS cannot reconcile still
flips back."""

from __future__ import annotations

import signal
import time

import pytest

# A short lease: the dead owner's lock expires by itself, as after a real crash.
SHORT_LEASE = {
    "FRESHFLEET_ROLLOUT__LOCK_LEASE_SECONDS": "3",
    "FRESHFLEET_ROLLOUT__LOCK_HEARTBEAT_SECONDS": "1",
}


def _running_step(fleet):
    rollouts = fleet.rollouts()
    if not rollouts or rollouts[-1]["state"] != "running":
        return None
    steps = rollouts[-1].get("steps") or []
    return steps[-1] if steps else None


def _kill_when(fleet, until, deploy, reached, what):
    """SIGKILL the deploy once `reached(rollout)` holds while it is still mid-rollout."""
    until(lambda: _running_step(fleet) is not None and reached(fleet.latest()), 60, what)
    deploy.send_signal(signal.SIGSTOP)
    try:
        assert _running_step(fleet) is not None, f"the rollout ended before {what}"
    finally:
        deploy.send_signal(signal.SIGKILL)
        deploy.wait(10)


def _resume(fleet, *args):
    """`freshfleet resume`, once the dead owner's lease has expired."""
    deadline = time.monotonic() + 15
    while (run := fleet.cli("resume", "demo-web", "-y", *args)).code == 3:
        assert "locked by" in run.err
        assert time.monotonic() < deadline, "the dead owner's lease never expired"
        time.sleep(0.3)
    return run


def _watching(rollout):
    steps = rollout.get("steps") or []
    return bool(steps) and steps[-1]["name"] == "watch" and steps[-1]["status"] == "running"


@pytest.fixture
def canary_watch_of_8s(fleet, monkeypatch):
    """`fleet`, with the short lease and a canary watch long enough to be killed in."""
    env = {**SHORT_LEASE, "FRESHFLEET_ROLLOUT__CANARY_WATCH_SECONDS": "8"}
    fleet.env.update(env)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return fleet


def test_a_canary_killed_during_its_watch_resumes_and_finishes_the_watch(canary_watch_of_8s, until):
    fleet = canary_watch_of_8s
    (v1_name, _), *_ = fleet.groups().items()
    deploy = fleet.spawn("deploy", "demo-web", "v2", "-y", "--strategy", "canary")
    _kill_when(fleet, until, deploy, _watching, "the canary watch")
    assert fleet.serving() == {"v1": 90, "v2": 10}

    run = _resume(fleet)

    assert run.code == 0, run.out + run.err
    rollout = fleet.latest()
    assert rollout["state"] == "succeeded", rollout["reason"]
    watches = [s for s in rollout["steps"] if s["name"] == "watch"]
    assert [w["status"] for w in watches] == ["running", "ok"]  # the killed one, then the rest
    assert watches[1]["detail"].startswith("resumed: ") and "at 10 %" in watches[1]["detail"]
    assert [s["name"] for s in rollout["steps"]][-5:] == [
        "scale",
        "gate",
        "shift",
        "bake",
        "retire",
    ]
    assert fleet.serving() == {"v2": 100}
    assert v1_name not in fleet.groups()
    (_, group), *_ = fleet.groups().items()
    assert group["release"] == "v2" and fleet.healthy(group["tg"]) == 3
    assert fleet.leftovers() == []


def test_a_rolling_rollout_killed_after_its_first_batch_resumes_the_remaining_batches(
    slow_fleet, until
):
    fleet = slow_fleet
    fleet.env.update(SHORT_LEASE)
    (v1_name, _), *_ = fleet.groups().items()
    deploy = fleet.spawn("deploy", "demo-web", "v2", "-y", "--strategy", "rolling")
    _kill_when(
        fleet,
        until,
        deploy,
        lambda r: any(s["name"] == "shrink" and s["status"] == "ok" for s in r["steps"]),
        "the first batch",
    )
    assert fleet.serving() == {"v1": 67, "v2": 33}

    run = _resume(fleet)

    assert run.code == 0, run.out + run.err
    rollout = fleet.latest()
    assert rollout["state"] == "succeeded", rollout["reason"]
    new = rollout["new_group"]
    shares = [h["weights"].get(new) for h in rollout["weights_history"]]
    assert shares[:2] == [0, 33] and shares[-2:] == [100, 100] and 67 in shares
    assert [s["name"] for s in rollout["steps"]][-2:] == ["bake", "retire"]
    assert fleet.serving() == {"v2": 100}
    assert v1_name not in fleet.groups()
    (_, group), *_ = fleet.groups().items()
    assert group["release"] == "v2" and fleet.healthy(group["tg"]) == 3
    assert fleet.leftovers() == []


def test_a_canary_whose_listener_weights_match_no_step_still_flips_back(canary_watch_of_8s, until):
    fleet = canary_watch_of_8s
    (v1_name, v1), *_ = fleet.groups().items()
    deploy = fleet.spawn("deploy", "demo-web", "v2", "-y", "--strategy", "canary")
    _kill_when(fleet, until, deploy, _watching, "the canary watch")
    # Someone changed the listener by hand while the rollout had no owner.
    new_tg = next(tg for tg in fleet.weights() if tg != v1["tg"])
    fleet.aws("elbv2").modify_listener(
        ListenerArn=fleet.listener()["ListenerArn"],
        DefaultActions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": v1["tg"], "Weight": 63},
                        {"TargetGroupArn": new_tg, "Weight": 37},
                    ]
                },
            }
        ],
    )

    _resume(fleet)

    rollout = fleet.latest()
    assert rollout["state"] == "rolled_back", rollout["outcome"]
    assert "match no" in rollout["reason"] and "flipping back" in rollout["reason"]
    assert fleet.serving() == {"v1": 100}
    assert list(fleet.groups()) == [v1_name] and fleet.healthy(v1["tg"]) == 3
    assert fleet.leftovers() == []


def test_a_canary_killed_before_its_first_share_gates_the_canary_then_goes_on(slow_fleet, until):
    fleet = slow_fleet
    fleet.env.update(SHORT_LEASE)
    (v1_name, _), *_ = fleet.groups().items()
    deploy = fleet.spawn("deploy", "demo-web", "v2", "-y", "--strategy", "canary")
    _kill_when(
        fleet,
        until,
        deploy,
        lambda r: r["steps"][-1]["name"] == "gate" and r["steps"][-1]["status"] == "running",
        "the canary's gate",
    )
    assert fleet.serving() == {"v1": 100}

    run = _resume(fleet)

    assert run.code == 0, run.out + run.err
    rollout = fleet.latest()
    assert rollout["state"] == "succeeded", rollout["reason"]
    gates = [s for s in rollout["steps"] if s["name"] == "gate"]
    assert gates[1]["detail"] == "resumed: the canary healthy" and gates[1]["status"] == "ok"
    assert fleet.serving() == {"v2": 100}
    assert v1_name not in fleet.groups()
    assert fleet.leftovers() == []
