"""Acting on a rollout from elsewhere: abort it from a second process, hit its lock from a
second deploy, and kill it at every step then resume."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from rollout.aws.backend import Backend
from rollout.aws.gateway import Gateway
from rollout.deploy import DeployRequest, PlanChange, Rollout, make_plan
from rollout.events import GateProgress, StepStarted, WeightsChanged
from rollout.ledger.lease import DeployLock

FINAL = ("succeeded", "failed", "rolled_back", "aborted")


def _current_step(fleet):
    rollouts = fleet.rollouts()
    if not rollouts or rollouts[-1]["state"] != "running":
        return None
    steps = rollouts[-1].get("steps") or []
    return steps[-1] if steps else None


def _reached(fleet, step, before):
    """The new rollout has reached `step` (or already ended: then the kill comes too late)."""
    rollouts = fleet.rollouts()
    if len(rollouts) <= before:
        return False
    latest = rollouts[-1]
    return latest["state"] != "running" or any(s["name"] == step for s in latest["steps"])


def test_abort_from_another_process_during_the_gate_deletes_the_new_group(slow_fleet, until):
    fleet = slow_fleet
    (v1_name, v1), *_ = fleet.groups().items()
    deploy = fleet.spawn("deploy", "demo-web", "v2", "-y")
    try:
        until(
            lambda: (_current_step(fleet) or {}).get("name") == "gate",
            what="the gate to start",
        )
        run = fleet.cli("abort", "demo-web")
    finally:
        out, err = deploy.communicate(timeout=60)

    assert run.code == 0, run.out + run.err
    assert "aborted" in run.out
    assert deploy.returncode == 1, out + err
    rollout = fleet.latest()
    assert rollout["state"] == "aborted"
    assert rollout["abort_requested"] is True and rollout["abort_by"]
    gate = next(s for s in rollout["steps"] if s["name"] == "gate")
    assert gate["status"] == "aborted"
    # The new group was in the listener at 0 % only (for its health checks), then left it.
    new = rollout["new_group"]
    assert [h["weights"] for h in rollout["weights_history"]] == [
        {v1_name: 100, new: 0},
        {v1_name: 100},
    ]
    assert list(fleet.groups()) == [v1_name]
    assert fleet.serving() == {"v1": 100} and fleet.healthy(v1["tg"]) == 3
    assert fleet.leftovers() == []


def test_two_deploys_at_once_one_runs_the_other_is_told_who_holds_the_lock(fleet, until):
    first = fleet.spawn("deploy", "demo-web", "v2", "-y", "--bake", "60", "-m", "ship v2")
    try:
        until(lambda: fleet.lock() is not None, what="the first deploy to lock")
        second = fleet.cli("deploy", "demo-web", "v2", "-y")
        holder = fleet.lock()["owner"]
        until(lambda: _current_step(fleet) is not None, what="the first rollout to start")
        stopped = fleet.cli("abort", "demo-web")
    finally:
        out, err = first.communicate(timeout=60)

    assert second.code == 3, second.out + second.err
    assert f"locked by {holder}" in second.err and "ship v2" in second.err
    assert holder.endswith(f":{first.pid}")
    assert stopped.code == 0, stopped.out + stopped.err
    assert first.returncode == 1, out + err
    assert len([r for r in fleet.rollouts() if r["to_release"] == "v2"]) == 1
    assert fleet.serving() == {"v1": 100}
    assert fleet.leftovers() == []


def test_killed_at_each_step_then_resumed_leaves_nothing_behind(slow_fleet, until):
    fleet = slow_fleet
    # A short lease: the dead owner's lock expires by itself, as after a real crash.
    fleet.env.update(
        FRESHFLEET_ROLLOUT__LOCK_LEASE_SECONDS="3", FRESHFLEET_ROLLOUT__LOCK_HEARTBEAT_SECONDS="1"
    )
    serving = "v1"
    missed: list[str] = []
    for step in ("launch", "gate", "shift", "bake", "retire"):
        target = "v2" if serving == "v1" else "v1"
        before = len(fleet.rollouts())
        deploy = fleet.spawn("deploy", "demo-web", target, "-y", "--bake", "4")
        # As soon as the rollout has reached the step (a short step may be over by the
        # time the ledger is read: the kill then lands just after it).
        until(
            lambda step=step, before=before: _reached(fleet, step, before),
            within=60,
            what=f"the {step} step",
        )
        # Freeze it, make sure it is still mid-rollout, then kill it.
        deploy.send_signal(signal.SIGSTOP)
        if _current_step(fleet) is None:  # it ended in the instant before the freeze
            deploy.send_signal(signal.SIGCONT)
            deploy.wait(30)
            missed.append(step)
        else:
            deploy.send_signal(signal.SIGKILL)
            deploy.wait(10)
            # The owner is dead but its lease is live: resume is refused until it expires.
            deadline = time.monotonic() + 15
            while (run := fleet.cli("resume", "demo-web", "-y")).code == 3:
                assert "locked by" in run.err
                assert time.monotonic() < deadline, "the dead owner's lease never expired"
                time.sleep(0.3)
            assert run.code in (0, 1), f"{step}: {run.out}{run.err}"

        assert fleet.latest()["state"] in FINAL, step
        assert fleet.leftovers() == [], f"killed at {step}"
        serving = next(iter(fleet.serving()))
        fleet.wait_serving_healthy(3, within=60)
    assert len(missed) <= 1, f"the kill came too late at {missed}"


def test_ctrl_c_before_the_shift_deletes_the_new_group_and_frees_the_lock(slow_fleet, until):
    fleet = slow_fleet
    (v1_name, _), *_ = fleet.groups().items()
    deploy = fleet.spawn("deploy", "demo-web", "v2", "-y")
    until(lambda: (_current_step(fleet) or {}).get("name") == "gate", what="the gate")
    deploy.send_signal(signal.SIGINT)
    out, err = deploy.communicate(timeout=60)

    assert deploy.returncode == 130, out + err
    rollout = fleet.latest()
    assert rollout["state"] == "aborted" and "interrupted" in rollout["reason"]
    assert list(fleet.groups()) == [v1_name]
    assert fleet.leftovers() == []


def test_no_wait_returns_after_the_shift_and_resume_finishes_the_bake(fleet):
    import json

    run = fleet.cli("deploy", "demo-web", "v2", "-y", "--no-wait", "--json")
    assert run.code == 0, run.err
    result = json.loads(run.out)
    assert result["state"] == "detached" and result["to_release"] == "v2"
    assert fleet.serving() == {"v2": 100}
    assert fleet.lock() is None  # the lock is not held while nobody bakes
    assert len(fleet.groups()) == 2  # v1 is retained for a flip back

    done = fleet.cli("resume", "demo-web", "-y", "--json")
    assert done.code == 0, done.err
    assert json.loads(done.out)["state"] == "succeeded"
    steps = [s["name"] for s in fleet.latest()["steps"]]
    assert steps == ["plan", "launch", "gate", "shift", "bake", "retire"]
    assert fleet.leftovers() == []


async def test_a_face_follows_the_events_and_can_detach_then_resume_finishes(fleet):
    config = fleet.config
    backend = Backend(endpoint_url=fleet.url, region="us-east-1", local=True)
    async with (
        Gateway(backend) as gw,
        DeployLock(gw, config.tables.locks, "demo-web", config.rollout) as lock,
    ):
        plan = await make_plan(gw, config, DeployRequest("demo-web", "v2"))
        assert plan.diff()[0] == PlanChange("release", "v1", "v2")
        rollout = Rollout(gw, config, plan, lock)
        task = asyncio.create_task(rollout.run())
        seen = []
        async for event in rollout.events():
            seen.append(event)
            # In traffic (not the join at 0 % before the gate): the console quits, detaching.
            if isinstance(event, WeightsChanged) and event.weights.get(plan.new_group, 0) > 0:
                rollout.detach()
                task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert any(isinstance(e, GateProgress) for e in seen)
    assert [e.step for e in seen if isinstance(e, StepStarted)] == [
        "plan", "launch", "gate", "shift"
    ]  # fmt: skip
    assert fleet.latest()["state"] == "detached" and fleet.lock() is None

    done = await asyncio.to_thread(fleet.cli, "resume", "demo-web", "-y")
    assert done.code == 0, done.out + done.err
    assert fleet.latest()["state"] == "succeeded"
    assert fleet.serving() == {"v2": 100}
    assert fleet.leftovers() == []
