"""What a new server group takes from the serving one: every setting of its target group and
ASG that freshfleet does not own (docs/ARCHITECTURE.md §3).

freshfleet owns a group's name, launch-template version, capacity, subnets of a first group,
target group, grace period and its own tags; everything else is copied. A setting that cannot
be carried over is refused by the plan with its name, never dropped in silence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rollout.aws.gateway import Gateway
from rollout.deploy.health_settings import FIRST_DEREGISTRATION_DELAY_SECONDS, HealthCheck
from rollout.deploy.scaling import policy_problems
from rollout.errors import RolloutInputError
from rollout.model import TAG_APP
from rollout.model import ServerGroup as ServerGroup

# CreateTargetGroup parameters a new target group takes from the serving one (the port and
# health path are the release's; a health-check port that was the old traffic port becomes
# `traffic-port`).
_TG_KEYS = (
    "Protocol",
    "ProtocolVersion",
    "IpAddressType",
    "HealthCheckProtocol",
    "HealthCheckPort",
    "HealthCheckEnabled",
    "HealthCheckIntervalSeconds",
    "HealthCheckTimeoutSeconds",
    "HealthyThresholdCount",
    "UnhealthyThresholdCount",
    "Matcher",
)
# CreateAutoScalingGroup parameters a new ASG takes from the serving one as they are.
_ASG_KEYS = (
    "AvailabilityZoneDistribution",
    "AvailabilityZoneImpairmentPolicy",
    "CapacityRebalance",
    "CapacityReservationSpecification",
    "Context",
    "DefaultCooldown",
    "DefaultInstanceWarmup",
    "DesiredCapacityType",
    "InstanceLifecyclePolicy",
    "InstanceMaintenancePolicy",
    "MaxInstanceLifetime",
    "NewInstancesProtectedFromScaleIn",
    "PlacementGroup",
    "ServiceLinkedRoleARN",
    "TerminationPolicies",
)
_HOOK_KEYS = (
    "LifecycleHookName",
    "LifecycleTransition",
    "NotificationTargetARN",
    "RoleARN",
    "NotificationMetadata",
    "HeartbeatTimeout",
    "DefaultResult",
)
_WARM_POOL_KEYS = ("MaxGroupPreparedCapacity", "MinSize", "PoolState", "InstanceReusePolicy")
_SCHEDULE_KEYS = ("Recurrence", "TimeZone", "EndTime", "MinSize", "MaxSize", "DesiredCapacity")
# Processes whose suspension would keep a new group from ever serving.
_BLOCKING = ("Launch", "AddToLoadBalancer")


@dataclass(frozen=True, slots=True)
class TargetGroupClone:
    """The new target group's settings beyond its name, port, VPC and health path."""

    params: dict[str, Any]
    attributes: tuple[tuple[str, str], ...]
    tags: tuple[tuple[str, str], ...] = ()
    check: HealthCheck = field(default_factory=HealthCheck)

    def health_port(self, traffic_port: int) -> int:
        """The port ELB health-checks the targets on: the traffic port unless the group
        names a port of its own."""
        port = str(self.params.get("HealthCheckPort", "traffic-port"))
        return int(port) if port.isdigit() else traffic_port


@dataclass(frozen=True, slots=True)
class GroupClone:
    """The new ASG's settings beyond what freshfleet owns, read from the serving group."""

    params: dict[str, Any] = field(default_factory=dict)
    mixed_instances_policy: dict[str, Any] | None = None
    tags: tuple[dict[str, Any], ...] = ()
    lifecycle_hooks: tuple[dict[str, Any], ...] = ()
    warm_pool: dict[str, Any] | None = None
    suspended_processes: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    metrics_granularity: str = "1Minute"
    scheduled_actions: tuple[dict[str, Any], ...] = ()
    policies: tuple[dict[str, Any], ...] = ()
    # SNS topic ARN -> the notification types the group sends it
    notifications: tuple[tuple[str, tuple[str, ...]], ...] = ()


def first_target_group() -> TargetGroupClone:
    """A first target group: explicit health-check timings, not AWS's defaults."""
    check = HealthCheck()
    return TargetGroupClone(
        params={"Protocol": "HTTP", **check.params()},
        attributes=(
            ("deregistration_delay.timeout_seconds", str(FIRST_DEREGISTRATION_DELAY_SECONDS)),
        ),
        check=check,
    )


def _user_tag(key: str) -> bool:
    return not key.startswith(("freshfleet:", "aws:"))


async def read_target_group(gw: Gateway, arn: str) -> TargetGroupClone:
    """The serving target group's settings and attributes, to copy onto the new one."""
    got = await gw.call("elbv2", "describe_target_groups", TargetGroupArns=[arn])
    old = got["TargetGroups"][0]
    if old.get("TargetType", "instance") != "instance":
        raise RolloutInputError(
            f"target group {old.get('TargetGroupName')} has targets of type "
            f"{old.get('TargetType')}: a server group registers instances"
        )
    attrs = await gw.call("elbv2", "describe_target_group_attributes", TargetGroupArn=arn)
    attributes = tuple(
        (str(a["Key"]), str(a.get("Value", ""))) for a in attrs.get("Attributes", [])
    )
    described = await gw.call("elbv2", "describe_tags", ResourceArns=[arn])
    tags = tuple(
        (str(t["Key"]), str(t.get("Value", "")))
        for d in described.get("TagDescriptions", [])
        for t in d.get("Tags", [])
        if _user_tag(str(t["Key"]))
    )
    params = {k: old[k] for k in _TG_KEYS if k in old}
    if str(params.get("HealthCheckPort", "")) == str(old.get("Port", "")):
        # The serving group checks its own traffic port: the new group checks the release's
        # port (which may differ), not the old number.
        params["HealthCheckPort"] = "traffic-port"
    return TargetGroupClone(
        params=params,
        attributes=attributes,
        tags=tags,
        check=HealthCheck.of(old, dict(attributes)),
    )


async def read_group(gw: Gateway, old: ServerGroup, launch_template: str) -> GroupClone:
    """The serving ASG's settings, hooks, warm pool, schedules, policies and SNS
    notifications to copy.

    RolloutInputError naming every setting a new group could not carry over.
    """
    got = await gw.call(
        "autoscaling", "describe_auto_scaling_groups", AutoScalingGroupNames=[old.name]
    )
    asgs = got.get("AutoScalingGroups", [])
    if not asgs:
        raise RolloutInputError(f"the serving group {old.name} is gone")
    asg = asgs[0]
    problems: list[str] = []
    if asg.get("LoadBalancerNames"):
        problems.append(f"classic load balancers {', '.join(asg['LoadBalancerNames'])}")
    others = [t for t in asg.get("TargetGroupARNs", []) if t != old.target_group_arn]
    if others:
        problems.append(f"target groups beyond its own: {', '.join(others)}")
    known = set(asg.get("TargetGroupARNs", []))
    sources = [
        str(s.get("Identifier", ""))
        for s in asg.get("TrafficSources", [])
        if s.get("Identifier") not in known
    ]
    if sources:
        problems.append(f"traffic sources {', '.join(sources)}")
    protection = str(asg.get("DeletionProtection") or "none")
    if protection != "none":
        problems.append(f"deletion protection {protection} (its retire could not delete it)")
    suspended = tuple(
        str(p["ProcessName"]) for p in asg.get("SuspendedProcesses", []) if p.get("ProcessName")
    )
    blocking = [p for p in suspended if p in _BLOCKING]
    if blocking:
        problems.append(f"suspended {', '.join(blocking)} (a new group would never serve)")
    mixed = _mixed_instances_policy(asg.get("MixedInstancesPolicy"), launch_template, problems)
    policies = await gw.paginate(
        "autoscaling", "describe_policies", "ScalingPolicies", AutoScalingGroupName=old.name
    )
    problems += policy_problems(policies)
    if problems:
        raise RolloutInputError(
            f"a new group cannot carry over what {old.name} has: " + "; ".join(problems)
        )
    hooks = await gw.call("autoscaling", "describe_lifecycle_hooks", AutoScalingGroupName=old.name)
    pool = await gw.call("autoscaling", "describe_warm_pool", AutoScalingGroupName=old.name)
    warm = pool.get("WarmPoolConfiguration") or {}
    schedules = await gw.paginate(
        "autoscaling",
        "describe_scheduled_actions",
        "ScheduledUpdateGroupActions",
        AutoScalingGroupName=old.name,
    )
    configured = await gw.paginate(
        "autoscaling",
        "describe_notification_configurations",
        "NotificationConfigurations",
        AutoScalingGroupNames=[old.name],
    )
    topics: dict[str, list[str]] = {}
    for c in configured:
        topics.setdefault(str(c["TopicARN"]), []).append(str(c["NotificationType"]))
    metrics = asg.get("EnabledMetrics", [])
    return GroupClone(
        params={k: asg[k] for k in _ASG_KEYS if k in asg and asg[k] not in (None, [], "")},
        mixed_instances_policy=mixed,
        tags=tuple(
            {
                "Key": t["Key"],
                "Value": t.get("Value", ""),
                "PropagateAtLaunch": bool(t.get("PropagateAtLaunch", False)),
            }
            for t in asg.get("Tags", [])
            if _user_tag(str(t["Key"])) and t["Key"] != TAG_APP
        ),
        lifecycle_hooks=tuple(
            {k: h[k] for k in _HOOK_KEYS if k in h} for h in hooks.get("LifecycleHooks", [])
        ),
        warm_pool={k: warm[k] for k in _WARM_POOL_KEYS if k in warm} if warm else None,
        suspended_processes=suspended,
        metrics=tuple(str(m["Metric"]) for m in metrics if m.get("Metric")),
        metrics_granularity=str(next((m["Granularity"] for m in metrics), "1Minute")),
        scheduled_actions=tuple(_schedule(s) for s in schedules if _still_due(s)),
        policies=tuple(policies),
        notifications=tuple((topic, tuple(kinds)) for topic, kinds in topics.items()),
    )


def _mixed_instances_policy(
    policy: dict[str, Any] | None, launch_template: str, problems: list[str]
) -> dict[str, Any] | None:
    """The serving group's mixed instances policy, to be pointed at the new version; problems
    for overrides that bring a launch template of their own (they would lack the release)."""
    if not policy:
        return None
    spec = policy.get("LaunchTemplate", {}).get("LaunchTemplateSpecification", {})
    name = spec.get("LaunchTemplateName")
    if name and name != launch_template:
        problems.append(f"a mixed instances policy on launch template {name}")
    for override in policy.get("LaunchTemplate", {}).get("Overrides", []):
        if override.get("LaunchTemplateSpecification"):
            problems.append(
                f"an instance-type override ({override.get('InstanceType', '?')}) with a "
                "launch template of its own"
            )
    return dict(policy)


def _still_due(action: dict[str, Any]) -> bool:
    """A recurring action, or a one-off one still in the future."""
    if action.get("Recurrence"):
        return True
    start = action.get("StartTime")
    return isinstance(start, datetime) and start > datetime.now(UTC)


def _schedule(action: dict[str, Any]) -> dict[str, Any]:
    out = {k: action[k] for k in _SCHEDULE_KEYS if action.get(k) is not None}
    out["ScheduledActionName"] = action["ScheduledActionName"]
    if not action.get("Recurrence") and action.get("StartTime"):
        out["StartTime"] = action["StartTime"]
    return out
