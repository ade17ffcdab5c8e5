"""Deleting an Auto Scaling group takes time, as on AWS (localaws/README.md, "Deletion").

AWS's DeleteAutoScalingGroup with `ForceDelete` returns at once, but the group stays listed by
DescribeAutoScalingGroups with `Status: Delete in progress` while its instances leave their
target groups (the deregistration delay) and terminate; only then is it gone. Meanwhile a
change to it answers `ValidationError: The AutoScaling group may not be modified while it is
pending delete`, and a second delete `ScalingActivityInProgress`. Without `ForceDelete`, a
group that still has instances answers `ResourceInUse`. Stock moto deletes at once.

`begin()` is called on moto's request thread; the group goes on a timer after the longest drain
of its instances plus `scaled(TERMINATE_SECONDS)`, or later, once the last of the instances it
is taking out has left (localaws/server/asg_terminating.py: a terminating lifecycle hook may
hold one in `Terminating:Wait` up to its timeout).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from moto.autoscaling.exceptions import AutoscalingClientError, ValidationError

from localaws.timescale import scaled

PENDING_DELETE = "Delete in progress"
TERMINATE_SECONDS = 30.0  # AWS seconds from an instance's last drain to the group's end
RECHECK_SECONDS = 5.0  # AWS seconds between two looks at whether its instances have left


class ScalingActivityInProgress(AutoscalingClientError):
    code = "ScalingActivityInProgress"
    message = (
        "You cannot delete an AutoScalingGroup while there are scaling activities in progress "
        "for that group."
    )


class ResourceInUse(AutoscalingClientError):
    code = "ResourceInUse"
    message = (
        "You cannot delete an AutoScalingGroup while there are instances or pending Spot "
        "instance request(s) still in the group."
    )


def is_pending_delete(group: Any) -> bool:
    """Whether `group` (a moto FakeAutoScalingGroup) is being deleted."""
    return getattr(group, "status", None) == PENDING_DELETE


def refuse_change(backend: Any, name: str) -> None:
    """Raise AWS's ValidationError when the group `name` is pending delete."""
    group = backend.autoscaling_groups.get(name)
    if group is not None and is_pending_delete(group):
        raise ValidationError(
            "The AutoScaling group may not be modified while it is pending delete"
        )


def begin(
    backend: Any,
    name: str,
    *,
    force: bool,
    drain_seconds: Callable[[str], float],
    delete_now: Callable[[], None],
) -> bool:
    """Start deleting the group `name`; False when moto should answer (a name it does not
    know). Its instances are scaled in at once, and `delete_now` removes the group after the
    longest of `drain_seconds(instance_id)` (local seconds) plus the termination time, and
    not before every instance it takes out has left."""
    group = backend.autoscaling_groups.get(name)
    if group is None:
        return False
    if is_pending_delete(group):
        raise ScalingActivityInProgress()
    # `instances` lists those still leaving the group too (`Terminating`): still its own.
    instance_ids = [s.instance.id for s in group.instances]
    if instance_ids and not force:
        raise ResourceInUse()
    linger = max((drain_seconds(i) for i in instance_ids), default=0.0)
    group.status = PENDING_DELETE
    backend.set_desired_capacity(name, 0)  # the instances leave their groups and terminate
    delay = linger + scaled(TERMINATE_SECONDS)
    timer = threading.Timer(delay, _finish, (backend, group, delete_now))
    timer.daemon = True
    timer.start()
    return True


def _finish(backend: Any, group: Any, delete_now: Callable[[], None]) -> None:
    # Only the group this delete began on: a reset or a new group of the same name is left be.
    if backend.autoscaling_groups.get(group.name) is not group:
        return
    # `instances` lists those it is taking out beside its members: while any is still leaving
    # (a terminating hook holds it, or EC2 is ending it), the group waits for it.
    if len(group.instances) > len(group.instance_states):
        timer = threading.Timer(scaled(RECHECK_SECONDS), _finish, (backend, group, delete_now))
        timer.daemon = True
        timer.start()
        return
    delete_now()
