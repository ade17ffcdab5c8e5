"""A serving group's lifecycle hooks go to the new group (the engine carries every hook).

On AWS a launch hook holds each new instance in `Pending:Wait`, registered with no target
group, until someone completes its lifecycle action. A rollout whose hook nobody completes
fails its gate at the deadline, the reason naming the hook, and the old group keeps serving.

A terminating hook holds each instance the retire takes out in `Terminating:Wait` (after its
drain) until its owner completes the action, else until its HeartbeatTimeout passes; then AWS
terminates it whatever the result. The retire waits for the old group's deletion that long,
says which hook it waits on, and never completes the hook itself.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.groups import describe
from tests.fixtures.groups import serving as _serving

APP = "demo-web"
HOOK = "register-with-dns"


def test_a_launch_hook_nobody_completes_fails_the_gate_naming_the_hook(
    fleet: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1, _ = _serving(fleet)
    before = fleet.weights()
    fleet.aws("autoscaling").put_lifecycle_hook(
        AutoScalingGroupName=v1,
        LifecycleHookName=HOOK,
        LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING",
        HeartbeatTimeout=3600,  # 36 s at the tests' scale: past the gate's deadline
        DefaultResult="ABANDON",
    )
    monkeypatch.setenv("FRESHFLEET_ROLLOUT__GATE_DEADLINE_SECONDS", "3")

    run = fleet.cli("deploy", APP, "v2", "-y")

    assert run.code == 1, run.out + run.err
    rollout = fleet.latest()
    assert rollout["state"] == "failed"
    reason = rollout["reason"]
    assert "gate deadline of 3 s passed with 0 of 3 instances healthy" in reason, reason
    assert "running in Pending:Wait, target unregistered" in reason, reason
    assert f"3 waiting on the lifecycle hook {HOOK} (autoscaling:EC2_INSTANCE_LAUNCHING)" in reason
    assert "running Pending:Wait unregistered" in run.out, run.out  # as the deploy went
    assert list(fleet.groups()) == [v1]
    assert fleet.weights() == before
    assert fleet.leftovers() == []


DRAIN_HOOK = "ship-logs"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"


def test_a_terminating_hook_nobody_completes_holds_the_retire_to_its_timeout_then_it_finishes(
    fleet: Any,
) -> None:
    v1, _ = _serving(fleet)
    old_ids = [i["InstanceId"] for i in describe(fleet, v1)["Instances"]]
    fleet.aws("autoscaling").put_lifecycle_hook(
        AutoScalingGroupName=v1,
        LifecycleHookName=DRAIN_HOOK,
        LifecycleTransition=TERMINATING,
        HeartbeatTimeout=300,  # 3 s at the tests' scale; nobody completes it
        DefaultResult="ABANDON",  # a terminating instance terminates all the same
    )

    run = fleet.cli("deploy", APP, "v2", "-y")

    assert run.code == 0, run.out + run.err
    rollout = fleet.latest()
    assert rollout["state"] == "succeeded", rollout
    # The retire waited on the hook, named it, and left it to its owner (AWS's timeout).
    said = " ".join(run.out.split())
    assert f"3 instances of {v1} wait in Terminating:Wait on the lifecycle hook {DRAIN_HOOK}" in (
        said
    ), run.out
    assert "HeartbeatTimeout 300 s, DefaultResult ABANDON" in said, run.out
    assert "freshfleet waits and does not complete another's hook" in said, run.out
    (new,) = fleet.groups()
    assert new != v1
    hooks = fleet.aws("autoscaling").describe_lifecycle_hooks(AutoScalingGroupName=new)
    assert [
        (h["LifecycleHookName"], h["LifecycleTransition"]) for h in hooks["LifecycleHooks"]
    ] == [(DRAIN_HOOK, TERMINATING)]  # carried to the new group, as every hook is
    ec2 = fleet.aws("ec2")
    ended = ec2.describe_instances(InstanceIds=old_ids)["Reservations"]
    assert {i["State"]["Name"] for r in ended for i in r["Instances"]} == {"terminated"}
    assert fleet.leftovers() == []
