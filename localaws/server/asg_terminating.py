"""An instance an Auto Scaling group takes out stays listed `Terminating` while it drains, as
on AWS (localaws/README.md, "Fidelity to AWS").

AWS ("Amazon EC2 Auto Scaling instance lifecycle",
https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-lifecycle.html, and
"Elastic Load Balancing and Amazon EC2 Auto Scaling" with the target group's deregistration
delay): an instance the group terminates (a scale-in by SetDesiredCapacity or
UpdateAutoScalingGroup, TerminateInstanceInAutoScalingGroup, a health check's replacement, the
group's deletion) goes from `InService` to `Terminating`: it is deregistered from the group's
target groups and waits out their deregistration delay while in-flight requests finish; then
`Terminating:Proceed`, EC2 terminates it, and it leaves the group's `Instances[]` (after
`Terminated`). Meanwhile DescribeAutoScalingGroups and DescribeAutoScalingInstances list it
with that LifecycleState, and it no longer counts toward the desired capacity. Stock moto
drops it from `Instances[]` at once.

localaws keeps moto's `instance_states` as the members that count (so moto's capacity
arithmetic, scale-in choice and target group sync never see a leaving instance) and holds the
leaving ones beside it, in `group.localaws_leaving`, listed by the group's `instances`:
`Terminating` for the longest deregistration delay of its target groups (local seconds, the
prober's), then `Terminating:Proceed` for `scaled(PROCEED_SECONDS)`, then gone. EC2 itself
ends the instance when the group takes it out (its app keeps answering while its targets
drain, `LocalCloud.ended`), so DescribeInstances shows it `shutting-down`/`terminated` while
AWS would still show it `running`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from localaws.timescale import scaled

TERMINATING = "Terminating"
PROCEED = "Terminating:Proceed"
PROCEED_SECONDS = 30.0  # AWS seconds from a drained instance's Terminating:Proceed to its end

_lock = threading.Lock()


def leaving(group: Any) -> list[Any]:
    """The moto InstanceStates `group` has taken out and still lists (`Terminating*`)."""
    return list(getattr(group, "localaws_leaving", ()))


def take_out(group: Any, states: Iterable[Any], drain_seconds: Callable[[str], float]) -> None:
    """List `states` (moto InstanceStates moto has just dropped from `group`) `Terminating`
    for `drain_seconds(instance_id)` (local seconds), then `Terminating:Proceed` for
    `scaled(PROCEED_SECONDS)`, then no more."""
    for state in states:
        state.lifecycle_state = TERMINATING
        with _lock:
            group.localaws_leaving = [*leaving(group), state]
        timer = threading.Timer(drain_seconds(state.instance.id), _proceed, (group, state))
        timer.daemon = True
        timer.start()


def _proceed(group: Any, state: Any) -> None:
    state.lifecycle_state = PROCEED
    timer = threading.Timer(scaled(PROCEED_SECONDS), _gone, (group, state))
    timer.daemon = True
    timer.start()


def _gone(group: Any, state: Any) -> None:
    with _lock:
        # A new list, not an edit: a request thread may be walking the old one.
        group.localaws_leaving = [s for s in leaving(group) if s is not state]
