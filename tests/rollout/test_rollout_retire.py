"""After the shift the old group is only ever retired or flipped back to whole.

A retire that fails part way (here: an operator's listener rule still forwards to the old
target group, so ELB refuses to delete it) leaves the new group serving and the rollout
detached for `resume`, which finishes the retire; before, it flipped traffic back onto the
group it had just deleted. An automatic flip back that would land on a group with fewer
healthy targets than it should have is refused: the new group keeps serving and the reason
says why.
"""

from __future__ import annotations

from typing import Any

APP = "demo-web"
Fleet = Any  # tests/rollout/conftest.py's Fleet, as the `fleet` fixture gives it


def _in_step(fleet: Fleet, step: str) -> bool:
    steps = fleet.latest().get("steps", []) if fleet.rollouts() else []
    return bool(steps) and steps[-1]["name"] == step and steps[-1]["status"] == "running"


def _add_rule_to(fleet: Fleet, tg: str) -> str:
    """An operator's own rule on the app's listener, forwarding /legacy/* to `tg`."""
    elb = fleet.aws("elbv2")
    rule = elb.create_rule(
        ListenerArn=fleet.listener()["ListenerArn"],
        Priority=77,
        Conditions=[{"Field": "path-pattern", "Values": ["/legacy/*"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    return str(rule["Rules"][0]["RuleArn"])


def test_a_retire_that_fails_keeps_the_new_group_serving_and_resume_finishes_it(
    fleet: Fleet, until: Any
) -> None:
    (old_name, old), *_ = fleet.groups().items()
    deploy = fleet.spawn("deploy", APP, "v2", "-y", "--bake", "8")
    try:
        until(lambda: _in_step(fleet, "bake"), what="the bake to start")
        rule = _add_rule_to(fleet, old["tg"])
    finally:
        out, err = deploy.communicate(timeout=120)

    assert deploy.returncode == 1, out + err
    rollout = fleet.latest()
    assert rollout["state"] == "detached", rollout
    assert rollout["reason"].startswith("retire failed: "), rollout["reason"]
    assert "in use" in rollout["reason"], rollout["reason"]
    assert f"freshfleet resume {APP}" in rollout["outcome"]
    # Never flipped back onto the group being deleted: v2 keeps all the traffic.
    assert fleet.serving() == {"v2": 100}
    assert rollout["weights_history"][-1]["weights"].get(old_name, 0) == 0
    assert "rollback" not in [s["name"] for s in rollout["steps"]]
    assert old_name not in fleet.groups()  # its ASG went; its target group is held by the rule

    fleet.aws("elbv2").delete_rule(RuleArn=rule)
    resumed = fleet.cli("resume", APP, "-y")
    assert resumed.code == 0, resumed.out + resumed.err
    assert fleet.latest()["state"] == "succeeded"
    assert fleet.serving() == {"v2": 100}
    assert fleet.leftovers() == []


def test_a_flip_back_onto_a_group_short_of_healthy_targets_is_refused(
    fleet: Fleet, until: Any
) -> None:
    (old_name, old), *_ = fleet.groups().items()
    ec2 = fleet.aws("ec2")
    deploy = fleet.spawn("deploy", APP, "v2", "-y", "--bake", "60")
    try:
        until(lambda: _in_step(fleet, "bake"), what="the bake to start")
        # The retained group loses an instance, then the new group does: the bake's
        # shortfall would flip traffic back onto 2 of 3 instances.
        ec2.terminate_instances(InstanceIds=[old["instances"][0]])
        until(lambda: fleet.healthy(old["tg"]) == 2, what="the old group down to 2 healthy")
        new = next(g for n, g in fleet.groups().items() if n != old_name)
        ec2.terminate_instances(InstanceIds=[new["instances"][0]])
    finally:
        out, err = deploy.communicate(timeout=120)

    assert deploy.returncode == 1, out + err
    rollout = fleet.latest()
    assert rollout["state"] == "detached", rollout
    assert f"{old_name} has 2 of 3 healthy targets" in rollout["outcome"], rollout["outcome"]
    assert "not flipped back" in rollout["reason"], rollout["reason"]
    assert fleet.serving() == {"v2": 100}
    assert old_name in fleet.groups()  # kept, for a flip back by hand once it is healthy
