"""When a release is bad the old fleet never notices: v3 fails at the gate, a release that
crashes after going healthy is flipped back during the bake."""

from __future__ import annotations

import threading
from datetime import datetime

from rollout.deploy.health_settings import agent_health_seconds


def _seconds(step: dict[str, str]) -> float:
    started, finished = (datetime.fromisoformat(step[k]) for k in ("started_at", "finished_at"))
    return (finished - started).total_seconds()


def test_v3_fails_at_the_gate_and_the_old_fleet_never_loses_traffic(fleet):
    (v1_name, v1), *_ = fleet.groups().items()
    samples: list[tuple[int, dict[str, int]]] = []
    stop = threading.Event()

    def sample() -> None:
        # Every half second: v1's healthy targets, and what the listener forwards to.
        while not stop.is_set():
            samples.append((fleet.healthy(v1["tg"]), fleet.serving()))
            stop.wait(0.5)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        run = fleet.cli("deploy", "demo-web", "v3", "-y")
    finally:
        stop.set()
        sampler.join()

    assert run.code == 1, run.out + run.err
    assert "never healthy" in run.out  # the boot agent's reason reaches the person
    assert samples and all(healthy >= 3 for healthy, _ in samples)
    assert all(serving == {"v1": 100} for _, serving in samples)

    rollout = fleet.latest()
    assert rollout["state"] == "failed"
    assert "never healthy" in rollout["reason"]
    gate = next(s for s in rollout["steps"] if s["name"] == "gate")
    assert gate["status"] == "failed"
    # The agent's health deadline came from the rollout (half its gate deadline): the gate
    # failed on the agent's `health fail` and its last answer, not at its own deadline.
    gate_deadline = float(fleet.env["FRESHFLEET_ROLLOUT__GATE_DEADLINE_SECONDS"])
    agent_deadline = agent_health_seconds(None, gate_deadline)
    assert "(health fail)" in gate["detail"] and "HTTP 500" in gate["detail"]
    assert f"no healthy answer within {agent_deadline:g} s" in gate["detail"]
    assert "gate deadline" not in rollout["reason"]
    assert _seconds(gate) < gate_deadline
    assert [s["name"] for s in rollout["steps"]][-1] == "cleanup"
    assert list(fleet.groups()) == [v1_name]  # the v3 group is gone
    assert fleet.leftovers() == []


def test_a_release_that_crashes_after_going_healthy_is_flipped_back_in_the_bake(fleet):
    # Long enough after healthy that all three pass the gate first, even on a busy machine.
    fleet.put_release("v2-crashy", simulate={"crash_after": 8})
    run = fleet.cli("deploy", "demo-web", "v2-crashy", "-y", "--bake", "60")

    assert run.code == 1, run.out + run.err
    rollout = fleet.latest()
    assert rollout["state"] == "rolled_back"
    assert "healthy targets during the bake" in rollout["reason"]
    bake = next(s for s in rollout["steps"] if s["name"] == "bake")
    assert bake["status"] == "failed"
    assert fleet.serving() == {"v1": 100}
    fleet.wait_serving_healthy(3)
    assert fleet.leftovers() == []


def test_a_rolling_deploy_that_goes_bad_gives_the_old_group_its_instances_back(fleet):
    fleet.put_release("v2-crashy", simulate={"crash_after": 2})
    run = fleet.cli("deploy", "demo-web", "v2-crashy", "-y", "--strategy", "rolling")

    assert run.code == 1, run.out + run.err
    rollout = fleet.latest()
    assert rollout["state"] == "rolled_back", rollout["reason"]
    assert rollout["old_shrunk"] is True  # the old group had given up instances
    fleet.wait_serving_healthy(3)
    assert fleet.serving() == {"v1": 100}
    (_, v1), *_ = fleet.groups().items()
    assert len(v1["instances"]) == 3
    assert fleet.leftovers() == []


def test_a_deploy_is_refused_while_an_earlier_rollout_is_unfinished(fleet):
    assert fleet.cli("deploy", "demo-web", "v2", "-y", "--no-wait").code == 0
    again = fleet.cli("deploy", "demo-web", "v1", "-y")
    assert again.code == 2
    assert "is detached and unfinished" in again.err and "resume" in again.err
    assert fleet.cli("rollback", "demo-web", "-y").code == 0  # flips v1 back in
    assert fleet.serving() == {"v1": 100}
    assert fleet.leftovers() == []


def test_a_launch_the_asg_cannot_make_fails_the_gate_at_once_with_aws_words(fleet):
    # The reason comes from the ASG's activities at once, not from the gate's deadline.
    fleet.put_release("v2-nocap", simulate={"launch_failure": "InsufficientInstanceCapacity"})
    run = fleet.cli("deploy", "demo-web", "v2-nocap", "-y")

    assert run.code == 1, run.out + run.err
    rollout = fleet.latest()
    assert rollout["state"] == "failed"
    assert (
        "could not launch an instance: We currently do not have sufficient" in (rollout["reason"])
    ), rollout["reason"]
    assert rollout["reason"].endswith("Launching EC2 instance failed.")
    gate = next(s for s in rollout["steps"] if s["name"] == "gate")
    assert gate["status"] == "failed"
    assert "deadline" not in rollout["reason"]
    assert fleet.serving() == {"v1": 100}
    assert fleet.leftovers() == []
