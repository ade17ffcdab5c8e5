"""An Auto Scaling group's launch lifecycle hooks, as AWS plays them (localaws/README.md,
"Fidelity to AWS").

AWS ("How lifecycle hooks work in Amazon EC2 Auto Scaling groups", CompleteLifecycleAction,
RecordLifecycleActionHeartbeat): each instance a group with an
`autoscaling:EC2_INSTANCE_LAUNCHING` hook launches waits in `Pending:Wait` until its lifecycle
action is completed or the hook's `HeartbeatTimeout` passes (then the hook's `DefaultResult`
applies); RecordLifecycleActionHeartbeat restarts the timeout, up to the hook's global
timeout (100 times `HeartbeatTimeout`, at most 48 hours). `CONTINUE` (from every launch hook
of the group) carries it on (`Pending:Proceed`): it is registered with the group's target
groups and comes `InService`, its grace period running from then. `ABANDON` (from any one)
terminates it, and the group launches another in its place. An instance waiting counts
toward the group's capacity but is registered with no target group. Stock moto 5.2.5 has
no wait (every instance is `InService` at once, registered at once) and no
CompleteLifecycleAction or RecordLifecycleActionHeartbeat.

Hooks of `autoscaling:EC2_INSTANCE_TERMINATING` are not played here. A hook holds the
instances launched after it was put. No notification is sent; the action's token is made
up and is accepted in place of the instance id. The timeouts are AWS seconds under
localaws's time scale; each runs on a daemon timer beside moto's request threads.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from localaws.server import asg_deletion, asg_health, scaling_activities
from localaws.timescale import scaled

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
WAIT = "Pending:Wait"
PROCEED = "Pending:Proceed"
RESULTS = ("CONTINUE", "ABANDON")
GLOBAL_TIMEOUT_MAX_SECONDS = 172800.0  # AWS: 48 hours or 100 times HeartbeatTimeout
# The lifecycle states that count toward a group's desired capacity (moto counts InService).
COUNTED = ("InService", "Pending", WAIT, PROCEED)
# localaws's words for the termination of an abandoned launch (AWS's are not documented).
ABANDON_CAUSE = (
    "At {now} an instance was taken out of service in response to the lifecycle action "
    "of the hook {hook} completing with ABANDON."
)

_lock = threading.RLock()


@dataclass
class _Action:
    """One launch hook's action on one instance, while it waits."""

    hook: str
    token: str
    heartbeat_seconds: float  # AWS seconds
    default_result: str
    deadline: float  # monotonic: the global timeout
    timer: threading.Timer | None = None


def launch_hooks(group: Any) -> list[Any]:
    """The `autoscaling:EC2_INSTANCE_LAUNCHING` hooks of `group` (a moto group)."""
    hooks = getattr(group.autoscaling_backend, "lifecycle_hooks", {})
    return [
        h
        for h in list(hooks.values())
        if h.auto_scaling_group_name == group.name and h.lifecycle_transition == LAUNCHING
    ]


def waiting_on(state: Any) -> list[str]:
    """The launch hooks whose action the instance of `state` waits on (none once it goes on)."""
    with _lock:
        return sorted(getattr(state, "localaws_launch_actions", {}))


def hold(group: Any, states: list[Any]) -> None:
    """Put the just-launched instances of `states` (moto InstanceStates of `group`) in
    `Pending:Wait`, one action per launch hook of the group, each with its timeout running.
    A group without launch hooks leaves them as they are."""
    hooks = launch_hooks(group)
    if not hooks:
        return
    now = time.monotonic()
    with _lock:
        for state in states:
            actions: dict[str, _Action] = {}
            for hook in hooks:
                heartbeat = float(hook.heartbeat_timeout or 3600)
                globally = min(100 * heartbeat, GLOBAL_TIMEOUT_MAX_SECONDS)
                actions[hook.name] = _Action(
                    hook=hook.name,
                    token=str(uuid.uuid4()),
                    heartbeat_seconds=heartbeat,
                    default_result=str(hook.default_result or "ABANDON"),
                    deadline=now + scaled(globally),
                )
            state.lifecycle_state = WAIT
            state.localaws_launch_actions = actions
            for action in actions.values():
                _arm(group, state, action)


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
        _decide(group, state, action.hook, result)
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
        for state in list(group.instance_states) if group is not None else []:
            action = getattr(state, "localaws_launch_actions", {}).get(hook)
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
        if getattr(state, "localaws_launch_actions", {}).get(action.hook) is not action:
            return  # completed, restarted or taken out meanwhile
        if action.timer is not None and action.timer is not threading.current_thread():
            return  # a heartbeat restarted it after this timer fired
    _decide(group, state, action.hook, action.default_result)


def _decide(group: Any, state: Any, hook: str, result: str) -> None:
    """The action of `hook` on the instance of `state` ends with `result`: ABANDON ends the
    instance (and its other actions); the last CONTINUE carries it into service."""
    with _lock:
        actions: dict[str, _Action] = getattr(state, "localaws_launch_actions", {})
        ending = [actions.pop(hook)] if hook in actions else []
        if result == "ABANDON":
            ending += list(actions.values())
            actions.clear()
        for action in ending:
            if action.timer is not None and action.timer is not threading.current_thread():
                action.timer.cancel()
        if actions or state not in group.instance_states:
            return
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
        asg_health.in_service(state.instance)  # its grace period runs from now


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
