"""A serving group's launch lifecycle hook goes to the new group (the engine carries every
hook), and on AWS it holds each new instance in `Pending:Wait`, registered with no target
group, until someone completes its lifecycle action. A rollout whose hook nobody completes
fails its gate at the deadline, the reason naming the hook, and the old group keeps serving.
"""

from __future__ import annotations

from typing import Any

import pytest

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
