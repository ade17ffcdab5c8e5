"""Auto Scaling settings AWS keeps and moto 5.2.5 drops, kept (localaws/server/patches.py).

moto's CreateAutoScalingGroup drops `DefaultInstanceWarmup`, `MaxInstanceLifetime`,
`DesiredCapacityType`, `InstanceMaintenancePolicy` and `Context`; its UpdateAutoScalingGroup
also drops `TerminationPolicies`, `CapacityRebalance` and `DefaultCooldown`, and forgets a
group's `MixedInstancesPolicy` on any update that does not name it (a resize); its
PutLifecycleHook drops `NotificationMetadata` and answers made-up `RoleARN` and
`NotificationTargetARN` values for a hook that names neither, and a `GlobalTimeout` of 48 hours
whatever its `HeartbeatTimeout` (AWS: 100 times it, at most 48 hours). Its
CreateAutoScalingGroup drops `LifecycleHookSpecificationList`: on AWS those hooks exist from
the group's creation, so they hold its very first launches (a launch hook: `Pending:Wait`,
localaws/server/lifecycle_hooks.py); here they are put before moto's create launches the
group's first instances, with AWS's defaults (`HeartbeatTimeout` 3600, `DefaultResult`
ABANDON), and taken back when the create fails. Its CreateAutoScalingGroup also
turns a `HealthCheckGracePeriod` of 0, or none, into 300, the AWS console's default; AWS's API
default is 0, and 0 turns the grace off ("Set the health check grace period for an Auto
Scaling group"), so a new group here gets what it was given, or 0. AWS keeps what it was given
and answers it in DescribeAutoScalingGroups / DescribeLifecycleHooks, so these wrappers store
each given value on moto's own object under the name its serializer reads (the shape member
in snake case). Nothing is evaluated: a warmup or a lifetime changes no instance here.
"""

from __future__ import annotations

import functools
from typing import Any

from localaws.server.lifecycle_hooks import GLOBAL_TIMEOUT_MAX_SECONDS

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


def _describe_given(hook: Any, given: dict[str, Any]) -> None:
    """Make moto's `hook` describe what `given` (the request's members) names and nothing
    else, its global timeout as AWS computes it."""
    for name, attribute in _HOOK.items():
        setattr(hook, attribute, given.get(name) or None)
    hook.global_timeout = int(min(100 * int(hook.heartbeat_timeout), GLOBAL_TIMEOUT_MAX_SECONDS))


def _put_specified_hooks(response: Any) -> list[str]:
    """Put the hooks of the request's `LifecycleHookSpecificationList` on the group it is
    about to create (none when a group of that name exists: moto refuses the create); the
    keys of the hooks put."""
    backend = response.autoscaling_backend
    name = response._get_param("AutoScalingGroupName")
    specs = response._get_params().get("LifecycleHookSpecificationList") or []
    if name in backend.autoscaling_groups:
        return []
    keys = []
    for spec in specs:
        hook = backend.create_lifecycle_hook(
            name=spec.get("LifecycleHookName"),
            as_name=name,
            transition=spec.get("LifecycleTransition"),
            timeout=int(spec["HeartbeatTimeout"]) if spec.get("HeartbeatTimeout") else None,
            result=spec.get("DefaultResult"),
        )
        _describe_given(hook, spec)
        keys.append(f"{name}_{hook.name}")
    return keys


def keep_on_create(original: Any) -> Any:
    """CreateAutoScalingGroup, keeping the settings moto drops, with the grace period it was
    given (0 when none), as AWS's API, and the hooks of its LifecycleHookSpecificationList
    in place before its first launch (so a launch hook holds the group's first instances)."""

    @functools.wraps(original)
    def create_auto_scaling_group(self: Any) -> Any:
        hooks = _put_specified_hooks(self)
        try:
            result = original(self)
        except Exception:
            for key in hooks:  # a refused create leaves no hook behind
                self.autoscaling_backend.lifecycle_hooks.pop(key, None)
            raise
        _keep(self, _ON_CREATE)
        group = self.autoscaling_backend.autoscaling_groups.get(
            self._get_param("AutoScalingGroupName")
        )
        if group is not None:  # the API's default is 0, not the console's 300
            group.health_check_grace_period = self._get_int_param("HealthCheckGracePeriod") or 0
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
    (none when it was given none, as AWS answers), its GlobalTimeout AWS's."""

    @functools.wraps(original)
    def put_lifecycle_hook(self: Any) -> Any:
        result = original(self)
        backend = self.autoscaling_backend
        key = f"{self._get_param('AutoScalingGroupName')}_{self._get_param('LifecycleHookName')}"
        hook = backend.lifecycle_hooks.get(key)
        if hook is not None:
            _describe_given(hook, {name: self._get_param(name) for name in _HOOK})
        return result

    return put_lifecycle_hook


# -- SNS notification configurations (5.2.5 implements none of their three calls) ------------


def _notifications(backend: Any) -> dict[str, dict[str, list[str]]]:
    """group name -> topic ARN -> notification types, kept on moto's backend (a reset
    forgets them with it)."""
    store: dict[str, dict[str, list[str]]] | None = getattr(backend, "localaws_notifications", None)
    if store is None:
        store = {}
        backend.localaws_notifications = store
    return store


def put_notification_configuration() -> Any:
    """PutNotificationConfiguration: the topic's notification types for the group, replacing
    the ones it had (ValidationError for a group that does not exist, as AWS answers)."""
    from moto.autoscaling.exceptions import ValidationError
    from moto.core.responses import EmptyResult

    def put(self: Any) -> Any:
        backend = self.autoscaling_backend
        name = self._get_param("AutoScalingGroupName")
        if name not in backend.autoscaling_groups:
            raise ValidationError(f"AutoScalingGroup name not found - {name}")
        types = [str(t) for t in self._get_param("NotificationTypes", []) or []]
        _notifications(backend).setdefault(name, {})[self._get_param("TopicARN")] = types
        return EmptyResult()

    return put


def delete_notification_configuration() -> Any:
    """DeleteNotificationConfiguration: the topic's configuration of the group is gone."""
    from moto.core.responses import EmptyResult

    def delete(self: Any) -> Any:
        group = _notifications(self.autoscaling_backend).get(
            self._get_param("AutoScalingGroupName"), {}
        )
        group.pop(self._get_param("TopicARN"), None)
        return EmptyResult()

    return delete


def describe_notification_configurations() -> Any:
    """DescribeNotificationConfigurations: one entry per group, topic and type, for the
    named groups (all without names); a deleted group's are gone with it."""
    from moto.core.responses import ActionResult

    def describe(self: Any) -> Any:
        backend = self.autoscaling_backend
        names = self._get_param("AutoScalingGroupNames", []) or list(backend.autoscaling_groups)
        found = [
            {"AutoScalingGroupName": name, "TopicARN": topic, "NotificationType": kind}
            for name in names
            if name in backend.autoscaling_groups
            for topic, kinds in sorted(_notifications(backend).get(name, {}).items())
            for kind in kinds
        ]
        start = int(self._get_param("NextToken") or 0)
        size = min(int(self._get_param("MaxRecords") or 50), 100)
        result: dict[str, Any] = {"NotificationConfigurations": found[start : start + size]}
        if start + size < len(found):
            result["NextToken"] = str(start + size)
        return ActionResult(result)

    return describe
