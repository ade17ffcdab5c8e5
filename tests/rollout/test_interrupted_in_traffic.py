"""Ctrl-C on a deploy once traffic has moved: the rollout is left detached in traffic, and
the command says so and names the two ways on."""

from __future__ import annotations

import signal


def test_ctrl_c_in_the_bake_says_detached_in_traffic_and_names_resume_and_rollback(fleet, until):
    deploy = fleet.spawn("deploy", "demo-web", "v2", "-y", "--bake", "120")

    def baking() -> bool:
        rollouts = fleet.rollouts()
        steps = rollouts[-1].get("steps") or [] if rollouts else []
        return bool(steps) and steps[-1]["name"] == "bake"

    until(baking, within=60, what="the bake")
    deploy.send_signal(signal.SIGINT)
    out, err = deploy.communicate(timeout=60)
    said = " ".join(err.split())

    assert deploy.returncode == 130, out + err
    assert "detached in traffic" in said, said
    assert "`freshfleet resume demo-web`" in said and "`freshfleet rollback demo-web`" in said
    assert fleet.latest()["state"] == "detached"
    assert fleet.serving() == {"v2": 100}
