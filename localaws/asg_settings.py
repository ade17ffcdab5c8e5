"""Auto Scaling settings AWS keeps and moto 5.2.5 drops, kept (localaws/patches.py).

moto's CreateAutoScalingGroup drops `DefaultInstanceWarmup`, `MaxInstanceLifetime`,
`DesiredCapacityType`, `InstanceMaintenancePolicy` and `Context`; its UpdateAutoScalingGroup
also drops `TerminationPolicies`, `CapacityRebalance` and `DefaultCooldown`, and forgets a
group's `MixedInstancesPolicy` on any update that does not name it (a resize); its
PutLifecycleHook drops `NotificationMetadata` and answers made-up `RoleARN` and
`NotificationTargetARN` values for a hook that names neither. AWS keeps what it was given
and answers it in DescribeAutoScalingGroups / DescribeLifecycleHooks, so these wrappers store
each given value on moto's own object under the name its serializer reads (the shape member
in snake case). Nothing is evaluated: a warmup or a lifetime changes no instance here.
"""

from __future__ import annotations

import functools
from typing import Any

# Request parameter -> (moto attribute, kind), for the settings each call drops.
_ON_CREATE = {
    "DefaultInstanceWarmup": ("default_instance_warmup", "int"),
    "MaxInstanceLifetime": ("max_instance_lifetime", "int"),
    "DesiredCapacityType": ("desired_capacity_type", "str"),
    "InstanceMaintenancePolicy": ("instance_maintenance_policy", "dict"),
    "Context": ("context", "str"),
}
_ON_UPDATE = {
    **_ON_CREATE,
    "TerminationPolicies": ("termination_policies", "list"),
    "CapacityRebalance": ("capacity_rebalance", "bool"),
    "DefaultCooldown": ("default_cooldown", "int"),
}
_HOOK = {
    "NotificationMetadata": "notification_metadata",
    "NotificationTargetARN": "notification_target_arn",
    "RoleARN": "role_arn",
}


def _given(response: Any, name: str, kind: str) -> Any:
    """The request's value of `name`, or None when the request does not carry it."""
    if kind == "int":
        return response._get_int_param(name)
    if kind == "bool":
        return response._get_bool_param(name, None)
    value = response._get_param(name)
    return None if value in (None, "", [], {}) else value


def _keep(response: Any, settings: dict[str, tuple[str, str]]) -> None:
    group = response.autoscaling_backend.autoscaling_groups.get(
        response._get_param("AutoScalingGroupName")
    )
    if group is None:
        return
    for name, (attribute, kind) in settings.items():
        value = _given(response, name, kind)
        if value is not None:
            setattr(group, attribute, value)


def keep_on_create(original: Any) -> Any:
    """CreateAutoScalingGroup, keeping the settings moto drops."""

    @functools.wraps(original)
    def create_auto_scaling_group(self: Any) -> Any:
        result = original(self)
        _keep(self, _ON_CREATE)
        return result

    return create_auto_scaling_group


def keep_on_update(original: Any) -> Any:
    """UpdateAutoScalingGroup, keeping the settings moto drops (unnamed ones unchanged)."""

    @functools.wraps(original)
    def update_auto_scaling_group(self: Any) -> Any:
        group = self.autoscaling_backend.autoscaling_groups.get(
            self._get_param("AutoScalingGroupName")
        )
        mixed = getattr(group, "mixed_instances_policy", None)
        result = original(self)
        names_launch = self._get_param("MixedInstancesPolicy") or self._get_param("LaunchTemplate")
        if group is not None and mixed and not names_launch:
            group.mixed_instances_policy = mixed  # an update that does not name it keeps it
        _keep(self, _ON_UPDATE)
        return result

    return update_auto_scaling_group


def keep_hook(original: Any) -> Any:
    """PutLifecycleHook, keeping NotificationMetadata, and the target and role it was given
    (none when it was given none, as AWS answers)."""

    @functools.wraps(original)
    def put_lifecycle_hook(self: Any) -> Any:
        result = original(self)
        backend = self.autoscaling_backend
        key = f"{self._get_param('AutoScalingGroupName')}_{self._get_param('LifecycleHookName')}"
        hook = backend.lifecycle_hooks.get(key)
        if hook is not None:
            for name, attribute in _HOOK.items():
                setattr(hook, attribute, self._get_param(name))
        return result

    return put_lifecycle_hook
