"""The target health the gate's messages name (why a gate failed, which instances the ASG
replaced): the state with its reason, the state alone, or `unregistered`."""

from __future__ import annotations

from rollout.model import HealthState, InstanceState, InstanceView


def test_the_target_health_gives_the_reason_the_state_alone_or_unregistered():
    def view(health: HealthState | None, reason: str = "") -> InstanceView:
        return InstanceView("i-1", "g", InstanceState.RUNNING, health, reason)

    unhealthy = view(HealthState.UNHEALTHY, "Target.ResponseCodeMismatch")
    assert unhealthy.target_health == "unhealthy (Target.ResponseCodeMismatch)"
    assert view(HealthState.INITIAL).target_health == "initial"
    assert view(None).target_health == "unregistered"


def test_an_instance_a_launch_hook_holds_is_not_healthy_whatever_its_target_says():
    def view(lifecycle: str) -> InstanceView:
        return InstanceView(
            "i-1", "g", InstanceState.RUNNING, HealthState.HEALTHY, lifecycle=lifecycle
        )

    assert view("InService").healthy
    assert view("").healthy  # not read: EC2 and the target decide, as before
    for waiting in ("Pending:Wait", "Pending:Proceed", "Pending"):
        assert not view(waiting).healthy, waiting
    assert view("Pending:Wait").waiting_on_hook
    assert not view("Pending:Proceed").waiting_on_hook
