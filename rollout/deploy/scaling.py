"""Scaling policies across server groups (docs/ARCHITECTURE.md §3): the serving group's policies
rewritten for the new group, and the retained group kept from scaling in while it waits out
of traffic, so a flip back lands on full capacity.

The retained group keeps its capacity the ways AWS documents: its target-tracking policies get
`DisableScaleIn` (the policy "doesn't remove instances"; scale-out goes on, so a flip back
under load still grows it), and when it has scheduled actions its `ScheduledActions` process
is suspended (a nightly schedule would otherwise shrink it mid-bake). Both are undone when the
rollout is undone; a retire deletes the group. Step and simple policies are refused (below),
so no alarm-driven policy is left to scale it in.

A policy names its group in places: a target-tracking `ResourceLabel`
(`app/<lb>/<id>/targetgroup/<tg>/<id>`) and metric dimensions (`AutoScalingGroupName`,
`TargetGroup`). Those are rewritten; step and simple policies are driven by CloudWatch alarms
that point at the old policy's ARN, so a group that has them is refused rather than copied
with policies that would never fire.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rollout.aws.gateway import Gateway

# PutScalingPolicy parameters a copy takes from the serving group's policy.
_COPIED = (
    "PolicyType",
    "AdjustmentType",
    "MinAdjustmentStep",
    "MinAdjustmentMagnitude",
    "ScalingAdjustment",
    "Cooldown",
    "MetricAggregationType",
    "StepAdjustments",
    "EstimatedInstanceWarmup",
    "TargetTrackingConfiguration",
    "PredictiveScalingConfiguration",
    "Enabled",
)
_ALARM_DRIVEN = ("StepScaling", "SimpleScaling")


def policy_problems(policies: Iterable[dict[str, Any]]) -> list[str]:
    """Why these policies cannot be copied: the step or simple ones that alarms drive."""
    out = []
    for p in policies:
        alarms = [str(a.get("AlarmName", "")) for a in p.get("Alarms", []) or []]
        if p.get("PolicyType", "SimpleScaling") in _ALARM_DRIVEN and alarms:
            out.append(
                f"{p.get('PolicyType', 'SimpleScaling')} policy {p['PolicyName']} driven by "
                f"alarms {', '.join(alarms)} (the alarms act on that group's policy only: "
                "use target tracking, or point the alarms at each new group yourself)"
            )
    return out


def target_group_label(arn: str) -> str:
    """`targetgroup/<name>/<id>`: how a ResourceLabel or a CloudWatch dimension names it."""
    _, _, resource = arn.partition(":targetgroup/")
    return f"targetgroup/{resource}" if resource else ""


def rewritten(value: Any, names: dict[str, str], labels: dict[str, str]) -> Any:
    """`value` with the old group's ASG name (in dimensions) and target group (in labels and
    dimensions) replaced by the new group's, at any depth."""
    if isinstance(value, list):
        return [rewritten(v, names, labels) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: rewritten(v, names, labels) for k, v in value.items()}
    if "ResourceLabel" in out:
        label = str(out["ResourceLabel"])
        for old, new in labels.items():
            if old and label.endswith(old):
                out["ResourceLabel"] = label[: -len(old)] + new
    if set(out) >= {"Name", "Value"}:
        if out["Name"] == "AutoScalingGroupName":
            out["Value"] = names.get(str(out["Value"]), out["Value"])
        elif out["Name"] == "TargetGroup":
            out["Value"] = labels.get(str(out["Value"]), out["Value"])
    return out


def policy_params(
    policy: dict[str, Any], *, old_group: str, new_group: str, old_tg: str, new_tg: str
) -> dict[str, Any]:
    """PutScalingPolicy parameters of `policy` copied onto `new_group`."""
    params = {k: policy[k] for k in _COPIED if k in policy and policy[k] not in (None, [], {})}
    params = rewritten(
        params,
        {old_group: new_group},
        {target_group_label(old_tg): target_group_label(new_tg)},
    )
    params["AutoScalingGroupName"] = new_group
    params["PolicyName"] = policy["PolicyName"]
    return dict(params)


def scale_in_holds(policies: Iterable[dict[str, Any]]) -> tuple[str, ...]:
    """The target-tracking policies that may scale a group in (DisableScaleIn not set)."""
    return tuple(
        str(p["PolicyName"])
        for p in policies
        if p.get("PolicyType") == "TargetTrackingScaling"
        and not (p.get("TargetTrackingConfiguration") or {}).get("DisableScaleIn")
    )


async def _set_scale_in(gw: Gateway, group: str, names: Iterable[str], disabled: bool) -> None:
    wanted = set(names)
    if not wanted:
        return
    policies = await gw.paginate(
        "autoscaling", "describe_policies", "ScalingPolicies", AutoScalingGroupName=group
    )
    for p in policies:
        if p["PolicyName"] not in wanted:
            continue
        params = {k: p[k] for k in _COPIED if k in p and p[k] not in (None, [], {})}
        config = dict(params.get("TargetTrackingConfiguration") or {})
        config["DisableScaleIn"] = disabled
        params["TargetTrackingConfiguration"] = config
        await gw.call(
            "autoscaling",
            "put_scaling_policy",
            AutoScalingGroupName=group,
            PolicyName=p["PolicyName"],
            **params,
        )


async def hold_scale_in(gw: Gateway, group: str, names: Iterable[str]) -> None:
    """Stop these target-tracking policies of `group` from scaling it in (scale-out goes on)."""
    await _set_scale_in(gw, group, names, True)


async def release_scale_in(gw: Gateway, group: str, names: Iterable[str]) -> None:
    """Let these policies of `group` scale it in again (the inverse of `hold_scale_in`)."""
    await _set_scale_in(gw, group, names, False)


# The process whose suspension keeps a group's scheduled actions from resizing it.
SCHEDULES = "ScheduledActions"


def schedules_hold(scheduled_actions: Iterable[dict[str, Any]], suspended: Iterable[str]) -> bool:
    """True when the retained group has scheduled actions that still run (its
    `ScheduledActions` process is not already suspended): they are to be held."""
    return bool(list(scheduled_actions)) and SCHEDULES not in set(suspended)


async def hold_schedules(gw: Gateway, group: str) -> None:
    """Suspend `group`'s scheduled actions (SuspendProcesses ScheduledActions)."""
    await gw.call(
        "autoscaling", "suspend_processes", AutoScalingGroupName=group, ScalingProcesses=[SCHEDULES]
    )


async def release_schedules(gw: Gateway, group: str) -> None:
    """Resume `group`'s scheduled actions (the inverse of `hold_schedules`)."""
    await gw.call(
        "autoscaling", "resume_processes", AutoScalingGroupName=group, ScalingProcesses=[SCHEDULES]
    )
