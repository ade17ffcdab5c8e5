"""An ASG member detached (`Detaching`, `Detached`) is leaving the group, and one on standby
(`EnteringStandby`, `Standby`) is still the group's but not counted: neither is ever healthy,
whatever its target says; the gate's last reading of a detached member that left is `running`
(it runs on), and its reason names the members that count before those set aside."""

from __future__ import annotations

from rollout.deploy.watch import _detached, _left, _why
from rollout.model import HealthState, InstanceState, InstanceView


def _view(lifecycle: str, iid: str = "i-1", health: HealthState | None = None) -> InstanceView:
    return InstanceView(
        iid, "g", InstanceState.RUNNING, health or HealthState.HEALTHY, lifecycle=lifecycle
    )


def test_a_detaching_member_is_leaving_and_a_standby_one_on_standby_neither_healthy() -> None:
    for lifecycle in ("Detaching", "Detached"):
        view = _view(lifecycle)
        assert view.leaving and view.detached and not view.on_standby, lifecycle
        assert not view.healthy, lifecycle
    for lifecycle in ("EnteringStandby", "Standby"):
        view = _view(lifecycle)
        assert view.on_standby and not view.leaving and not view.detached, lifecycle
        assert not view.healthy, lifecycle
    for lifecycle in ("Terminating", "Terminating:Proceed"):
        view = _view(lifecycle)
        assert view.leaving and not view.detached, lifecycle
    for lifecycle in ("InService", "Pending", "Pending:Wait", ""):
        view = _view(lifecycle)
        assert not (view.leaving or view.on_standby or view.detached), lifecycle


def test_a_member_that_left_reads_terminated_unless_it_was_detached() -> None:
    gone = _left(_view("Terminating"))
    assert gone.state is InstanceState.TERMINATED
    detached = _left(_view("Detaching"))
    assert detached.state is InstanceState.RUNNING
    assert detached.lifecycle == "Detached"
    assert _detached({"i-7": detached}) == "; detached from the group: i-7"
    assert _detached({}) == ""


def test_the_reason_names_the_members_that_count_before_those_set_aside() -> None:
    views = [
        _view("Standby", "i-standby"),
        _view("Detaching", "i-detaching"),
        _view("InService", "i-counted", HealthState.UNHEALTHY),
    ]
    reason = _why(views)
    assert reason.index("i-counted") < reason.index("i-standby") < reason.index("i-detaching")
    assert "i-standby running in Standby" in reason, reason
    assert "i-detaching running in Detaching" in reason, reason
