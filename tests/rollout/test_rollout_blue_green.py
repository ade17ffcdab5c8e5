"""Blue-green on the demo: v2 goes in, v1 waits through the bake, then is retired; a
rollback during the bake flips back in one listener change; later it deploys v1 fresh."""

from __future__ import annotations

import threading
import time

STEPS = ["plan", "launch", "gate", "shift", "bake", "retire"]


def test_deploy_v2_keeps_v1_through_the_bake_then_retires_it(fleet):
    v1_group = next(iter(fleet.groups()))
    seen_during_bake: list[tuple[bool, dict[str, int]]] = []
    stop = threading.Event()

    def watch() -> None:
        # While the ledger says "bake", v1's group must still exist, out of traffic.
        while not stop.is_set():
            rollouts = [r for r in fleet.rollouts() if r["to_release"] == "v2"]
            steps = rollouts[-1]["steps"] if rollouts else []
            if steps and steps[-1]["name"] == "bake" and steps[-1]["status"] == "running":
                seen_during_bake.append((v1_group in fleet.groups(), fleet.serving()))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        run = fleet.cli("deploy", "demo-web", "v2", "-y", "--bake", "3")
    finally:
        stop.set()
        watcher.join()

    assert run.code == 0, run.out + run.err
    assert "succeeded" in run.out
    assert seen_during_bake, "the bake was never observed"
    assert all(kept and serving == {"v2": 100} for kept, serving in seen_during_bake)

    groups = fleet.groups()
    assert v1_group not in groups
    (name, group), *_ = groups.items()
    assert group["release"] == "v2" and len(group["instances"]) == 3
    assert fleet.healthy(group["tg"]) == 3
    assert fleet.serving() == {"v2": 100}
    # The new group spreads over both zones of the load balancer, as v1's did.
    assert fleet.zones(group["instances"]) == fleet.lb_zones()

    rollout = fleet.latest()
    assert rollout["state"] == "succeeded"
    assert [s["name"] for s in rollout["steps"]] == STEPS
    assert all(
        s["status"] == "ok" and s["started_at"] and s["finished_at"] for s in rollout["steps"]
    )
    assert rollout["from_release"] == "v1" and rollout["new_group"] == name
    assert fleet.leftovers() == []

    # After the bake, rollback means a fresh deploy of the previous release.
    back = fleet.cli("rollback", "demo-web", "-y")
    assert back.code == 0, back.out + back.err
    assert fleet.serving() == {"v1": 100}
    (fresh, group), *_ = fleet.groups().items()
    assert fresh not in (v1_group, name) and group["release"] == "v1"
    assert fleet.latest()["state"] == "succeeded"
    assert fleet.leftovers() == []


def test_rollback_during_the_bake_puts_v1_back_in_one_listener_change(fleet, until):
    deploy = fleet.spawn("deploy", "demo-web", "v2", "-y", "--bake", "60")
    try:
        until(
            lambda: any(
                s["name"] == "bake" and s["status"] == "running"
                for r in fleet.rollouts()
                for s in r.get("steps", [])
            ),
            what="the bake to start",
        )
        assert fleet.serving() == {"v2": 100}

        back = fleet.cli("rollback", "demo-web", "-y")
    finally:
        out, err = deploy.communicate(timeout=60)

    assert back.code == 0, back.out + back.err
    assert "rolled_back" in back.out
    assert fleet.serving() == {"v1": 100}
    assert deploy.returncode == 1, out + err  # the deploy ended rolled back
    rollout = fleet.latest()
    assert rollout["state"] == "rolled_back"
    assert rollout["abort_action"] == "rollback"
    flips = [h["weights"] for h in rollout["weights_history"]]
    v1, v2 = rollout["old_group"]["name"], rollout["new_group"]
    assert flips[0] == {v1: 100, v2: 0}  # v2 joins before its gate, so ELB checks it
    assert flips[1] == {v2: 100, v1: 0}  # the cutover
    assert flips[2] == {v1: 100, v2: 0}  # the flip back: one change
    assert fleet.leftovers() == []
