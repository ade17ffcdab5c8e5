"""An instance an Auto Scaling group takes out stays listed `Terminating` while it drains, and
EC2 keeps it running until then, as on AWS (localaws/README.md, "Fidelity to AWS").

AWS ("Amazon EC2 Auto Scaling instance lifecycle",
https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-lifecycle.html; "How
lifecycle hooks work", with the target group's deregistration delay): an instance the group
terminates (a scale-in by SetDesiredCapacity or UpdateAutoScalingGroup,
TerminateInstanceInAutoScalingGroup, a health check's replacement, the group's deletion) goes
from `InService` to `Terminating`: it is first deregistered from the group's target groups
and waits out their deregistration delay while in-flight requests finish; then, when the
group has `autoscaling:EC2_INSTANCE_TERMINATING` hooks, `Terminating:Wait` until their actions
end (localaws/server/lifecycle_hooks.py); then `Terminating:Proceed`, EC2 terminates it, and it
leaves the group's `Instances[]`. Until `Terminating:Proceed` EC2 shows it `running` and it
keeps its `aws:autoscaling:groupName` tag. Meanwhile DescribeAutoScalingGroups and
DescribeAutoScalingInstances list it with that LifecycleState, and it no longer counts toward
the desired capacity. Stock moto drops it from `Instances[]` and terminates it at once.

localaws keeps moto's `instance_states` as the members that count (so moto's capacity
arithmetic, scale-in choice and target group sync never see a leaving instance) and holds the
leaving ones beside it, in `group.localaws_leaving`, listed by the group's `instances`:
`Terminating` for the longest deregistration delay of its target groups (local seconds, the
prober's), `Terminating:Wait` while a terminating hook holds it, then `Terminating:Proceed`
for `scaled(PROCEED_SECONDS)` (EC2 ends it as it begins), then gone. moto terminates the
instances a group takes out inside the calls that take them out: `ec2_waits()` around those
calls holds that back (`ec2_waiting()`, read by the patch of Instance.terminate). The
termination's scaling activity is recorded when the group takes it out.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from localaws.server import lifecycle_hooks, scaling_activities
from localaws.timescale import scaled

log = logging.getLogger(__name__)

TERMINATING = "Terminating"
PROCEED = "Terminating:Proceed"
PROCEED_SECONDS = 30.0  # AWS seconds from an instance's Terminating:Proceed to its end

_lock = threading.Lock()
_held = threading.local()


def leaving(group: Any) -> list[Any]:
    """The moto InstanceStates `group` has taken out and still lists (`Terminating*`)."""
    return list(getattr(group, "localaws_leaving", ()))


@contextlib.contextmanager
def ec2_waits() -> Iterator[None]:
    """While this runs (on this thread), EC2 terminates no instance: the group takes it out
    and `take_out` has EC2 terminate it at its `Terminating:Proceed`."""
    depth = int(getattr(_held, "depth", 0))
    _held.depth = depth + 1
    try:
        yield
    finally:
        _held.depth = depth


def ec2_waiting() -> bool:
    """Whether EC2's termination of an instance is held back on this thread (`ec2_waits`)."""
    return int(getattr(_held, "depth", 0)) > 0


def take_out(group: Any, states: Iterable[Any], drain_seconds: Callable[[str], float]) -> None:
    """List `states` (moto InstanceStates moto has just dropped from `group`) `Terminating`,
    deregistered from the group's target groups, for `drain_seconds(instance_id)` (local
    seconds); then `Terminating:Wait` while the group's terminating hooks hold it; then
    `Terminating:Proceed`, EC2 terminating it, for `scaled(PROCEED_SECONDS)`; then no more.
    Each is recorded as a termination activity now (the cause `terminating_because` gave)."""
    for state in states:
        lifecycle_hooks.release(state)  # a launch hook's wait ends with it
        instance = state.instance
        state.lifecycle_state = TERMINATING
        with _lock:
            group.localaws_leaving = [*leaving(group), state]
        if instance.state != "terminated":  # else EC2 ended it first, and said so
            instance.localaws_taken_out = True
            scaling_activities.terminated(group, instance.id)
        delay = drain_seconds(instance.id)
        deregister(group, instance.id)
        timer = threading.Timer(delay, _drained, (group, state))
        timer.daemon = True
        timer.start()


def deregister(group: Any, instance_id: str) -> None:
    """The group deregisters the instance from those of its target groups that hold it: its
    targets drain (an instance taken out, detached or put on standby)."""
    elbv2 = group.autoscaling_backend.elbv2_backend
    for arn in list(group.target_group_arns or []):
        tg = elbv2.target_groups.get(arn)
        if tg is not None and instance_id in tg.targets:
            elbv2.deregister_targets(arn, [{"Id": instance_id}])


def _drained(group: Any, state: Any) -> None:
    if not lifecycle_hooks.hold(group, [state], lifecycle_hooks.TERMINATING, _proceed):
        _proceed(group, state)


def _proceed(group: Any, state: Any, result: str = "CONTINUE", hook: str = "") -> None:
    """`Terminating:Proceed` (whatever the hooks' result: both let it terminate): EC2 ends the
    instance, and it is gone after `scaled(PROCEED_SECONDS)`."""
    state.lifecycle_state = PROCEED
    instance = state.instance
    if instance.state != "terminated":
        try:
            group.autoscaling_backend.ec2_backend.terminate_instances([instance.id])
        except Exception:  # a reset forgot it, or EC2 refuses: it leaves the group all the same
            log.exception("terminating %s at Terminating:Proceed failed", instance.id)
    timer = threading.Timer(scaled(PROCEED_SECONDS), _gone, (group, state))
    timer.daemon = True
    timer.start()


def _gone(group: Any, state: Any) -> None:
    with _lock:
        # A new list, not an edit: a request thread may be walking the old one.
        group.localaws_leaving = [s for s in leaving(group) if s is not state]
