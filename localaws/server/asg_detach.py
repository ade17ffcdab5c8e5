"""DetachInstances, EnterStandby and ExitStandby as AWS plays them (localaws/README.md,
"Fidelity to AWS").

AWS (DetachInstances, EnterStandby, ExitStandby API references; "Detach or attach instances
from your Auto Scaling group", "Temporarily remove instances from your Auto Scaling group"):

- A detached instance goes `Detaching` (deregistered from the group's target groups, waiting
  out their deregistration delay) → `Detached`, then leaves the group's `Instances[]`; it
  keeps running as a plain EC2 instance, no longer tagged with the group. Only an `InService`
  or `Standby` instance can be detached. `ShouldDecrementDesiredCapacity` false: the group
  launches a replacement; true: the desired capacity drops by the number detached, refused
  when that is below the group's minimum.
- An instance put on standby goes `EnteringStandby` (deregistered, draining) → `Standby`: still
  the group's and listed, but it does not count toward the desired capacity (without
  decrement the group launches a replacement), no health check looks at it and no scale-in
  picks it. Only an `InService` instance can. ExitStandby puts it back: the desired capacity
  grows by one, the instance goes `Pending` (registered again) → `InService`, its health check
  grace period running from then. A group deleted with `ForceDelete` ends its standby
  instances with the rest.

Stock moto 5.2.5 drops a detached instance from `Instances[]` at once and leaves it registered
with the group's target groups; puts an instance in `Standby` at once, still registered and
still a candidate for scale-in, and back `InService` at once; checks no state and no size.

localaws keeps moto's `instance_states` as the members that count (moto's capacity arithmetic,
scale-in choice, target group sync and the health checks never see one set aside) and holds
the instances detaching or on standby beside it, in `group.localaws_aside`, listed by the
group's `Instances[]` and by DescribeAutoScalingInstances. `Detaching` and `EnteringStandby`
last the longest deregistration delay of the instance's target groups (local seconds, the
prober's); `Detached` is listed for `scaled(DETACHED_SECONDS)` and `Pending` after standby for
`scaled(PENDING_SECONDS)`, both localaws's choices (AWS documents neither). Error words:
"is not in InService or Standby", "is not part of Auto Scaling group", "is not in InService"
and the detach's size message are AWS's as field reports give them; the standby size messages
and "is not in Standby" are localaws's, on the same pattern.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from localaws.server import asg_deletion, asg_terminating, lifecycle_hooks, scaling_activities
from localaws.timescale import scaled

DETACHING = "Detaching"
DETACHED = "Detached"
ENTERING_STANDBY = "EnteringStandby"
STANDBY = "Standby"
PENDING = "Pending"
DETACHED_SECONDS = 30.0  # AWS seconds a detached instance stays listed `Detached`
PENDING_SECONDS = 10.0  # AWS seconds an instance back from standby is `Pending`
MAX_INSTANCES = 20  # per call, as AWS's API references say
ASG_NAME_TAG = "aws:autoscaling:groupName"

_lock = threading.RLock()


def aside(group: Any) -> list[Any]:
    """The moto InstanceStates `group` lists but does not count: detaching, detached (until
    they leave) and on standby."""
    return list(getattr(group, "localaws_aside", ()))


def respond(response: Any, drain_seconds: Callable[[str], float]) -> Any:
    """Answer the AutoScalingResponse's DetachInstances, EnterStandby or ExitStandby as AWS
    does (module docstring), `drain_seconds(instance_id)` being how long (local seconds) its
    targets drain; ValidationError for a group that does not exist or is pending delete, an
    instance not of the group or not in a state the call accepts, or a size the group's
    minimum or maximum refuses."""
    from moto.autoscaling.exceptions import ValidationError
    from moto.core.responses import ActionResult

    backend = response.autoscaling_backend
    name = str(response._get_param("AutoScalingGroupName") or "")
    group = backend.autoscaling_groups.get(name)
    if group is None:
        raise ValidationError(f"AutoScalingGroup name not found - {name}")
    asg_deletion.refuse_change(backend, name)
    ids = [str(i) for i in response._get_param("InstanceIds", []) or []]
    decrement = bool(response._get_bool_param("ShouldDecrementDesiredCapacity", False))
    action = response._get_action()
    if action == "DetachInstances" and len(ids) > MAX_INSTANCES:
        raise ValidationError(
            "List exceeds the maximum number of instances to detach. Please retry your "
            "request with fewer instances."
        )
    with _lock:
        if action == "DetachInstances":
            states = _named(group, ids, ("InService", STANDBY), "InService or Standby")
            activities = _set_aside(group, states, decrement, drain_seconds, _DETACH)
        elif action == "EnterStandby":
            states = _named(group, ids, ("InService",), "InService")
            activities = _set_aside(group, states, decrement, drain_seconds, _TO_STANDBY)
        else:
            activities = _exit_standby(group, ids)
    return ActionResult({"Activities": activities})


def end_standby(group: Any) -> None:
    """The group is being deleted: its instances on standby terminate with it (EC2 ends
    them; each is a termination activity of the group)."""
    with _lock:
        standing = [s for s in aside(group) if s.lifecycle_state in (ENTERING_STANDBY, STANDBY)]
        _keep_aside(group, [s for s in aside(group) if s not in standing])
    ids = [s.instance.id for s in standing if s.instance.state != "terminated"]
    if ids:
        group.autoscaling_backend.ec2_backend.terminate_instances(ids)


# -- the three calls ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Aside:
    """How DetachInstances or EnterStandby sets an instance aside."""

    what: str  # the size message's words: "To detach 1 instance"
    lifecycle: str  # while its targets drain
    description: str  # the activity's, of the instance id
    done: str  # the activity's cause: "instance i-… was detached"
    then: Callable[[Any, Any], None]  # (group, state) once drained
    leaves: bool  # a plain EC2 instance from now: untagged, no longer the group's


def _set_aside(
    group: Any,
    states: list[Any],
    decrement: bool,
    drain_seconds: Callable[[str], float],
    how: _Aside,
) -> list[dict[str, Any]]:
    """Deregister `states`, list them `how.lifecycle` out of the members that count, lower
    the desired capacity when asked (refused below the minimum), else launch their
    replacements; the activities, one per instance."""
    if decrement:
        _refuse_size(group, -len(states), how.what)
    desired = int(group.desired_capacity or 0)
    after = desired - len(states) if decrement else desired
    shrink = f", shrinking the capacity from {desired} to {after}" if decrement else ""
    out = []
    ec2 = group.autoscaling_backend.ec2_backend
    for state in states:
        instance = state.instance
        cause = f"instance {instance.id} {how.done} in response to a user request{shrink}."
        out.append(_activity(group, how.description.format(instance.id), cause, ("InProgress", 50)))
        drain = _deregister(group, state, drain_seconds)
        _move_aside(group, state, how.lifecycle)
        if how.leaves:
            ec2.delete_tags([instance.id], {ASG_NAME_TAG: group.name})
            instance.__dict__.pop("autoscaling_group", None)
        _after(drain, how.then, group, state)
    group.desired_capacity = after
    group.set_desired_capacity(after)  # without decrement: the replacements, new ids
    return out


def _exit_standby(group: Any, ids: list[str]) -> list[dict[str, Any]]:
    states = _named(group, ids, (STANDBY,), "Standby")
    _refuse_size(group, len(states), "move out of standby")
    desired = int(group.desired_capacity or 0)
    after = desired + len(states)
    out = []
    for state in states:
        instance = state.instance
        out.append(
            _activity(
                group,
                f"Moving EC2 instance out of Standby: {instance.id}",
                f"instance {instance.id} was moved out of standby in response to a user "
                f"request, increasing the capacity from {desired} to {after}.",
                ("PreInService", 30),
            )
        )
        _keep_aside(group, [s for s in aside(group) if s is not state])
        state.lifecycle_state = PENDING
        group.instance_states = [*group.instance_states, state]
        _after(scaled(PENDING_SECONDS), _back_in_service, group, state)
    group.desired_capacity = after
    group.set_desired_capacity(after)  # counted again; registered with its target groups
    return out


# -- the steps -------------------------------------------------------------------------------


def _named(group: Any, ids: list[str], accepted: tuple[str, ...], words: str) -> list[Any]:
    """The group's InstanceStates of `ids`, each in one of the `accepted` lifecycle states;
    ValidationError (AWS's words) naming the first that is not."""
    from moto.autoscaling.exceptions import ValidationError

    known = {s.instance.id: s for s in [*group.instance_states, *aside(group)]}
    found = []
    for instance_id in dict.fromkeys(ids):
        state = known.get(instance_id)
        if state is None or state.lifecycle_state in (DETACHING, DETACHED):
            raise ValidationError(
                f"The instance {instance_id} is not part of Auto Scaling group {group.name}."
            )
        if state.lifecycle_state not in accepted:
            raise ValidationError(f"The instance {instance_id} is not in {words}.")
        found.append(state)
    return found


def _refuse_size(group: Any, change: int, what: str) -> None:
    """ValidationError when the desired capacity changed by `change` would leave the group's
    minimum and maximum."""
    from moto.autoscaling.exceptions import ValidationError

    desired = int(group.desired_capacity or 0)
    low, high = int(group.min_size or 0), int(group.max_size or 0)
    if low <= desired + change <= high:
        return
    count = abs(change)
    raise ValidationError(
        f"AutoScalingGroup {group.name} has min-size={low}, max-size={high}, and "
        f"desired-size={desired}. To {what} {count} instance{'s' if count != 1 else ''}, "
        "please update the AutoScalingGroup sizes appropriately."
    )


def _activity(group: Any, description: str, cause: str, status: tuple[str, int]) -> Any:
    """Record the call's activity (Successful in DescribeScalingActivities) and return it as
    the call answers it, still in progress."""
    recorded = scaling_activities.recorded(
        group, description, f"At {scaling_activities.now_text()} {cause}"
    )
    answer = {k: v for k, v in recorded.items() if k != "EndTime"}
    answer["StatusCode"], answer["Progress"] = status
    return answer


def _deregister(group: Any, state: Any, drain_seconds: Callable[[str], float]) -> float:
    """Deregister the instance of `state` from the group's target groups
    (`asg_terminating.deregister`); how long (local seconds) its targets drain."""
    drain = drain_seconds(state.instance.id)
    asg_terminating.deregister(group, state.instance.id)
    return drain


def _move_aside(group: Any, state: Any, lifecycle: str) -> None:
    """List `state` set aside in `lifecycle`, out of the members that count."""
    state.lifecycle_state = lifecycle
    group.instance_states = [s for s in group.instance_states if s is not state]
    _keep_aside(group, [*(s for s in aside(group) if s is not state), state])


def _keep_aside(group: Any, states: Iterable[Any]) -> None:
    # A new list, not an edit: a request thread may be walking the old one.
    with _lock:
        group.localaws_aside = list(states)


def _after(seconds: float, then: Callable[..., None], *args: Any) -> None:
    timer = threading.Timer(max(0.0, seconds), then, args)
    timer.daemon = True
    timer.start()


def _detached(group: Any, state: Any) -> None:
    with _lock:
        if state.lifecycle_state == DETACHING:
            state.lifecycle_state = DETACHED
    _after(scaled(DETACHED_SECONDS), _gone, group, state)


def _gone(group: Any, state: Any) -> None:
    _keep_aside(group, [s for s in aside(group) if s is not state])


def _on_standby(group: Any, state: Any) -> None:
    with _lock:
        if state.lifecycle_state == ENTERING_STANDBY:
            state.lifecycle_state = STANDBY


def _back_in_service(group: Any, state: Any) -> None:
    with _lock:
        if state.lifecycle_state != PENDING or state not in group.instance_states:
            return  # taken out meanwhile
        state.lifecycle_state = "InService"
    if state.instance.state == "running":
        lifecycle_hooks.in_service(state.instance)  # its grace period runs from now


_DETACH = _Aside(
    what="detach",
    lifecycle=DETACHING,
    description="Detaching EC2 instance: {}",
    done="was detached",
    then=_detached,
    leaves=True,
)
_TO_STANDBY = _Aside(
    what="move to standby",
    lifecycle=ENTERING_STANDBY,
    description="Moving EC2 instance to Standby: {}",
    done="was moved to standby",
    then=_on_standby,
    leaves=False,
)
