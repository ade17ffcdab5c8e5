"""Launch a server group: a launch-template version with the rendered user data, a target
group cloning the old one's health check, and an ASG copying the old group's capacity,
health-check settings and scaling policies (DESIGN §3, §4 step 2). Nothing routes to it yet.
"""

from __future__ import annotations

import base64
from typing import Any

from rollout.eventual import after_create
from rollout.gateway import Gateway
from rollout.naming import asg_tag_list, elb_tag_list, group_tags
from rollout.rollouts.groups import GroupRef
from rollout.rollouts.plan import Capacity, RolloutPlan

# Health-check settings a new target group takes from the serving one.
_HEALTH_KEYS = (
    "HealthCheckProtocol",
    "HealthCheckPort",
    "HealthCheckEnabled",
    "HealthCheckIntervalSeconds",
    "HealthCheckTimeoutSeconds",
    "HealthyThresholdCount",
    "UnhealthyThresholdCount",
    "Matcher",
)


def version_description(plan: RolloutPlan) -> str:
    """Marks the launch-template version as this rollout's, so a resume can find it."""
    return f"freshfleet {plan.app} {plan.release.version} rollout {plan.rollout_id}"


async def create_template_version(gw: Gateway, plan: RolloutPlan) -> str:
    """A new version of the app's launch template carrying the user data; returns its number."""
    got = await gw.call(
        "ec2",
        "create_launch_template_version",
        LaunchTemplateName=plan.launch_template,
        SourceVersion="$Default",
        VersionDescription=version_description(plan),
        LaunchTemplateData={"UserData": base64.b64encode(plan.user_data.encode()).decode()},
    )
    return str(got["LaunchTemplateVersion"]["VersionNumber"])


async def find_template_versions(gw: Gateway, plan_app: str, lt: str, rollout_id: str) -> list[str]:
    """Versions of the template created by this rollout (by their description)."""
    got = await gw.paginate(
        "ec2", "describe_launch_template_versions", "LaunchTemplateVersions", LaunchTemplateName=lt
    )
    mark = f"rollout {rollout_id}"
    return [
        str(v["VersionNumber"])
        for v in got
        if str(v.get("VersionDescription", "")).endswith(mark)
        and str(v.get("VersionDescription", "")).startswith(f"freshfleet {plan_app} ")
    ]


async def create_target_group(gw: Gateway, plan: RolloutPlan) -> str:
    """The new group's target group: the release's port and health path, the old timings."""
    params: dict[str, Any] = {
        "Name": plan.new_group,
        "Protocol": "HTTP",
        "Port": int(plan.release.port),
        "VpcId": plan.traffic.vpc_id,
        "TargetType": "instance",
        "HealthCheckPath": plan.release.health_path,
        "Tags": elb_tag_list(group_tags(plan.app, plan.release.version, plan.rollout_id)),
    }
    if plan.old_group and plan.old_group.target_group_arn:
        got = await gw.call(
            "elbv2", "describe_target_groups", TargetGroupArns=[plan.old_group.target_group_arn]
        )
        old = got["TargetGroups"][0]
        params["Protocol"] = old.get("Protocol", "HTTP")
        params.update({k: old[k] for k in _HEALTH_KEYS if k in old})
    got = await gw.call("elbv2", "create_target_group", **params)
    arn = str(got["TargetGroups"][0]["TargetGroupArn"])
    if plan.old_group and plan.old_group.target_group_arn:
        attrs = await gw.call(
            "elbv2",
            "describe_target_group_attributes",
            TargetGroupArn=plan.old_group.target_group_arn,
        )
        keep = [
            a
            for a in attrs.get("Attributes", [])
            if a["Key"] in ("deregistration_delay.timeout_seconds", "slow_start.duration_seconds")
        ]
        if keep:  # a target group just created: ELB may not know it everywhere yet
            await after_create(
                gw, "elbv2", "modify_target_group_attributes", TargetGroupArn=arn, Attributes=keep
            )
    return arn


async def create_group(
    gw: Gateway, plan: RolloutPlan, target_group_arn: str, version: str, capacity: Capacity
) -> GroupRef:
    """The new ASG on the template version, registered with its target group."""
    old = plan.old_group
    subnets = old.subnets if old and old.subnets else ",".join(plan.traffic.subnets)
    group = GroupRef(
        name=plan.new_group,
        release=plan.release.version,
        rollout_id=plan.rollout_id,
        target_group_arn=target_group_arn,
        launch_template=plan.launch_template,
        launch_template_version=version,
        min_size=capacity.min_size,
        max_size=capacity.max_size,
        desired=capacity.desired,
        health_check_type=old.health_check_type if old else "ELB",
        grace_period=old.grace_period if old else 60,
        subnets=subnets,
    )
    await gw.call(
        "autoscaling",
        "create_auto_scaling_group",
        AutoScalingGroupName=group.name,
        LaunchTemplate={"LaunchTemplateName": plan.launch_template, "Version": version},
        MinSize=group.min_size,
        MaxSize=group.max_size,
        DesiredCapacity=group.desired,
        TargetGroupARNs=[target_group_arn],
        VPCZoneIdentifier=subnets,
        HealthCheckType=group.health_check_type,
        HealthCheckGracePeriod=group.grace_period,
        Tags=asg_tag_list(plan.app, plan.release.version, plan.rollout_id, group.name),
    )
    if old:
        await copy_scaling_policies(gw, old.name, group.name)
    return group


async def copy_scaling_policies(gw: Gateway, source: str, target: str) -> None:
    """Every scaling policy of `source` put on `target` under the same name."""
    policies = await gw.paginate(
        "autoscaling", "describe_policies", "ScalingPolicies", AutoScalingGroupName=source
    )
    copied = (
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
        "Enabled",
    )
    for policy in policies:
        params = {k: policy[k] for k in copied if k in policy}
        await gw.call(
            "autoscaling",
            "put_scaling_policy",
            AutoScalingGroupName=target,
            PolicyName=policy["PolicyName"],
            **params,
        )


async def set_capacity(gw: Gateway, name: str, capacity: Capacity) -> None:
    await gw.call(
        "autoscaling",
        "update_auto_scaling_group",
        AutoScalingGroupName=name,
        MinSize=capacity.min_size,
        MaxSize=capacity.max_size,
        DesiredCapacity=capacity.desired,
    )
