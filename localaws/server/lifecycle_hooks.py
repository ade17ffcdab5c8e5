"""An Auto Scaling group's lifecycle hooks, launching and terminating, as AWS plays them
(localaws/README.md, "Fidelity to AWS").

AWS ("How lifecycle hooks work in Amazon EC2 Auto Scaling groups", "Add lifecycle hooks",
CompleteLifecycleAction, RecordLifecycleActionHeartbeat): an instance of a group with a hook
for its transition waits (`Pending:Wait` for `autoscaling:EC2_INSTANCE_LAUNCHING`,
`Terminating:Wait` for `autoscaling:EC2_INSTANCE_TERMINATING`) until its lifecycle action is
completed or the hook's `HeartbeatTimeout` passes (then the hook's `DefaultResult` applies);
RecordLifecycleActionHeartbeat restarts the timeout, up to the hook's global timeout (100 times
`HeartbeatTimeout`, at most 48 hours). One action per hook of the transition; `CONTINUE` lets
the other hooks' actions go on, `ABANDON` stops them.

A launch: `CONTINUE` (from every launch hook) carries the instance on (`Pending:Proceed`): it
is registered with the group's target groups and comes `InService`, its grace period running
from then (`in_service`). `ABANDON` (from any one) terminates it, and the group launches
another in its place. An instance waiting counts toward the group's capacity but is
registered with no target group. A termination (localaws/server/asg_terminating.py: once its
targets have drained): both results let it go on to `Terminating:Proceed` and its end; the
hook's CONTINUE or ABANDON changes only whether other hooks' actions still hold it. Stock moto
5.2.5 has no wait (every instance is `InService` at once, gone at once) and no
CompleteLifecycleAction or RecordLifecycleActionHeartbeat.

A hook holds the instances that reach its transition after it was put. No notification is
sent; the action's token is made up and is accepted in place of the instance id. The timeouts
are AWS seconds under localaws's time scale; each runs on a daemon timer beside moto's
request threads.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from localaws.server import asg_deletion, scaling_activities
from localaws.timescale import scaled

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
WAIT = "Pending:Wait"
PROCEED = "Pending:Proceed"
TERMINATING_WAIT = "Terminating:Wait"
WAITS = {LAUNCHING: WAIT, TERMINATING: TERMINATING_WAIT}
RESULTS = ("CONTINUE", "ABANDON")
GLOBAL_TIMEOUT_MAX_SECONDS = 172800.0  # AWS: 48 hours or 100 times HeartbeatTimeout
# The lifecycle states that count toward a group's desired capacity (moto counts InService).
COUNTED = ("InService", "Pending", WAIT, PROCEED)
# localaws's words for the termination of an abandoned launch (AWS's are not documented).
ABANDON_CAUSE = (
    "At {now} an instance was taken out of service in response to the lifecycle action "
    "of the hook {hook} completing with ABANDON."
)

# What follows the wait, once its last action has ended: (group, state, result, hook).
Then = Callable[[Any, Any, str, str], None]

_lock = threading.RLock()


@dataclass
class _Action:
    """One hook's action on one instance, while it waits."""

    hook: str
    token: str
    heartbeat_seconds: float  # AWS seconds
    default_result: str
    deadline: float  # monotonic: the global timeout
    timer: threading.Timer | None = None


@dataclass
class _Wait:
    """An instance's wait at one transition: the actions still open and what follows."""

    transition: str
    then: Then
    actions: dict[str, _Action] = field(default_factory=dict)


def in_service(instance: Any) -> None:
    """Stamp the moment `instance` (a moto Instance) came into service: EC2 shows it running,
    or its launch hooks' actions went on. Its group's grace period runs from then."""
    instance.localaws_in_service_at = time.monotonic()


def hooks_for(group: Any, transition: str) -> list[Any]:
    """The hooks of `group` (a moto group) for `transition` (LAUNCHING or TERMINATING)."""
    hooks = getattr(group.autoscaling_backend, "lifecycle_hooks", {})
    return [
        h
        for h in list(hooks.values())
        if h.auto_scaling_group_name == group.name and h.lifecycle_transition == transition
    ]


def waiting_on(state: Any) -> list[str]:
    """The hooks whose action the instance of `state` waits on (none once it goes on)."""
    with _lock:
        wait: _Wait | None = getattr(state, "localaws_wait", None)
        return sorted(wait.actions) if wait is not None else []


def hold(
    group: Any, states: list[Any], transition: str = LAUNCHING, then: Then | None = None
) -> bool:
    """Put the instances of `states` (moto InstanceStates of `group`) in `transition`'s wait
    state, one action per hook of the group for it, each with its timeout running; once the
    last action ends, `then(group, state, result, hook)` (for a launch by default: into
    service, or terminated and replaced on ABANDON). False, leaving them as they are, when
    the group has no hook for `transition`."""
    hooks = hooks_for(group, transition)
    if not hooks:
        return False
    now = time.monotonic()
    with _lock:
        for state in states:
            release(state)
            wait = _Wait(transition, then or _launch_decided)
            for hook in hooks:
                heartbeat = float(hook.heartbeat_timeout or 3600)
                globally = min(100 * heartbeat, GLOBAL_TIMEOUT_MAX_SECONDS)
                wait.actions[hook.name] = _Action(
                    hook=hook.name,
                    token=str(uuid.uuid4()),
                    heartbeat_seconds=heartbeat,
                    default_result=str(hook.default_result or "ABANDON"),
                    deadline=now + scaled(globally),
                )
            state.lifecycle_state = WAITS[transition]
            state.localaws_wait = wait
            for action in wait.actions.values():
                _arm(group, state, action)
    return True


def release(state: Any) -> None:
    """End whatever wait the instance of `state` is in, its timers too, with nothing to follow
    (the group has taken it out meanwhile): a later completion finds no action."""
    with _lock:
        wait: _Wait | None = getattr(state, "localaws_wait", None)
        state.localaws_wait = None
        for action in wait.actions.values() if wait is not None else ():
            if action.timer is not None and action.timer is not threading.current_thread():
                action.timer.cancel()


def counted(original: Any) -> Any:
    """FakeAutoScalingGroup.active_instances: the instances that count toward the desired
    capacity, those pending (waiting on a hook) too, so a group does not launch more while
    one waits."""

    @functools.wraps(original)
    def active_instances(self: Any) -> list[Any]:
        return [s for s in self.instance_states if s.lifecycle_state in COUNTED]

    return active_instances


def registered_when_going_on(original: Any) -> Any:
    """AutoScalingBackend.update_attached_target_groups: register the group's instances with
    its target groups, but none waiting in `Pending:Wait` (AWS registers an instance once its
    launch goes on)."""

    @functools.wraps(original)
    def update_attached_target_groups(self: Any, group_name: str) -> None:
        group = self.autoscaling_groups[group_name]
        ids = [s.instance.id for s in group.instance_states if s.lifecycle_state != WAIT]
        if not group.target_group_arns or not ids:
            return
        for tg in self.elbv2_backend.describe_target_groups(
            target_group_arns=group.target_group_arns, load_balancer_arn=None, names=None
        ):
            self.elbv2_backend.register_targets(tg.arn, [{"Id": i, "Port": tg.port} for i in ids])

    return update_attached_target_groups


# -- the API (AutoScalingResponse methods moto 5.2.5 lacks) ------------------------------------


def complete_lifecycle_action() -> Any:
    """CompleteLifecycleAction: end the action of the hook on the instance (by InstanceId or
    LifecycleActionToken) with `CONTINUE` or `ABANDON`; ValidationError when no such action
    waits."""
    from moto.core.responses import EmptyResult

    def complete(self: Any) -> Any:
        result = str(self._get_param("LifecycleActionResult") or "")
        if result not in RESULTS:
            from moto.autoscaling.exceptions import ValidationError

            raise ValidationError(
                f"Value '{result}' at 'lifecycleActionResult' failed to satisfy constraint: "
                "Member must be CONTINUE or ABANDON"
            )
        group, state, action = _find(self)
        _decide(group, state, action, result)
        return EmptyResult()

    return complete


def record_lifecycle_action_heartbeat() -> Any:
    """RecordLifecycleActionHeartbeat: restart the action's timeout (its hook's
    HeartbeatTimeout, never past the global timeout); ValidationError when no such action
    waits."""
    from moto.core.responses import EmptyResult

    def heartbeat(self: Any) -> Any:
        group, state, action = _find(self)
        _arm(group, state, action)
        return EmptyResult()

    return heartbeat


def _find(response: Any) -> tuple[Any, Any, _Action]:
    """The group, instance state and action a CompleteLifecycleAction or
    RecordLifecycleActionHeartbeat request names; ValidationError when none waits."""
    from moto.autoscaling.exceptions import ValidationError

    name = str(response._get_param("AutoScalingGroupName") or "")
    hook = str(response._get_param("LifecycleHookName") or "")
    instance_id = str(response._get_param("InstanceId") or "")
    token = str(response._get_param("LifecycleActionToken") or "")
    group = response.autoscaling_backend.autoscaling_groups.get(name)
    with _lock:
        # `instances` lists those the group is taking out too (asg_terminating).
        for state in list(group.instances) if group is not None else []:
            wait: _Wait | None = getattr(state, "localaws_wait", None)
            action = wait.actions.get(hook) if wait is not None else None
            if action is None:
                continue
            if (instance_id and state.instance.id == instance_id) or (
                token and action.token == token
            ):
                return group, state, action
    what = f"instance ID {instance_id}" if instance_id else f"token {token}"
    raise ValidationError(f"No active Lifecycle Action found with {what}")


def _arm(group: Any, state: Any, action: _Action) -> None:
    """(Re)start the action's timeout: its heartbeat, cut at its global timeout."""
    with _lock:
        if action.timer is not None:
            action.timer.cancel()
        delay = max(0.0, min(scaled(action.heartbeat_seconds), action.deadline - time.monotonic()))
        timer = threading.Timer(delay, _expire, args=(group, state, action))
        timer.daemon = True
        action.timer = timer
        timer.start()


def _expire(group: Any, state: Any, action: _Action) -> None:
    with _lock:
        if action.timer is not None and action.timer is not threading.current_thread():
            return  # a heartbeat restarted it after this timer fired
    _decide(group, state, action, action.default_result)


def _decide(group: Any, state: Any, action: _Action, result: str) -> None:
    """`action` on the instance of `state` ends with `result`: ABANDON ends its other actions
    too; once none is left, what follows the wait follows."""
    with _lock:
        wait: _Wait | None = getattr(state, "localaws_wait", None)
        if wait is None or wait.actions.get(action.hook) is not action:
            return  # completed, or the wait ended, meanwhile
        ending = [wait.actions.pop(action.hook)]
        if result == "ABANDON":
            ending += list(wait.actions.values())
            wait.actions.clear()
        for done in ending:
            if done.timer is not None and done.timer is not threading.current_thread():
                done.timer.cancel()
        if wait.actions:
            return
        state.localaws_wait = None
    wait.then(group, state, result, action.hook)


def _launch_decided(group: Any, state: Any, result: str, hook: str) -> None:
    if state not in group.instance_states:
        return  # taken out while it waited
    if result == "ABANDON":
        _abandon(group, state, hook)
    else:
        _go_on(group, state)


def _go_on(group: Any, state: Any) -> None:
    backend = group.autoscaling_backend
    state.lifecycle_state = PROCEED
    if backend.autoscaling_groups.get(group.name) is group:
        backend.update_attached_target_groups(group.name)
    state.lifecycle_state = "InService"
    if state.instance.state == "running":
        in_service(state.instance)  # its grace period runs from now


def _abandon(group: Any, state: Any, hook: str) -> None:
    instance = state.instance
    cause = ABANDON_CAUSE.format(now=scaling_activities.now_text(), hook=hook)
    scaling_activities.terminating_because(group, instance.id, cause)
    group.instance_states = [s for s in group.instance_states if s is not state]
    if instance.state != "terminated":
        group.autoscaling_backend.ec2_backend.terminate_instances([instance.id])
    backend = group.autoscaling_backend
    suspended = {p["ProcessName"] for p in group.suspended_processes}
    live = backend.autoscaling_groups.get(group.name) is group
    if live and not asg_deletion.is_pending_delete(group) and "Launch" not in suspended:
        group.set_desired_capacity(group.desired_capacity)  # its replacement, a new id
