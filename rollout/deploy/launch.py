"""Launch a server group: a launch-template version with the rendered user data, a target
group and an ASG with the settings the plan chose (the serving group's, rewritten for the
new group; docs/ARCHITECTURE.md §3, §4 step 2). Nothing routes to it yet.
"""

from __future__ import annotations

import base64
from typing import Any

from rollout.aws.eventual import after_create
from rollout.aws.gateway import Gateway
from rollout.deploy.plan import RolloutPlan
from rollout.deploy.scaling import (
    hold_scale_in,
    hold_schedules,
    policy_params,
    release_scale_in,
    release_schedules,
)
from rollout.model import Capacity, ServerGroup
from rollout.naming import asg_tag_list, elb_tag_list, group_tags

# IMDSv2 only, and a PUT hop limit of 1: the agent runs on the host, so the release's
# container (one hop further) gets no IMDS token and never the instance role's credentials.
METADATA_OPTIONS = {
    "HttpTokens": "required",
    "HttpPutResponseHopLimit": 1,
    "HttpEndpoint": "enabled",
    "InstanceMetadataTags": "enabled",
}


def version_description(plan: RolloutPlan) -> str:
    """Marks the launch-template version as this rollout's, so a resume can find it."""
    return f"freshfleet {plan.app} {plan.release.version} rollout {plan.rollout_id}"


async def create_template_version(gw: Gateway, plan: RolloutPlan) -> str:
    """A new version of the app's launch template carrying the user data and METADATA_OPTIONS
    (whatever the default version allows); returns its number."""
    got = await gw.call(
        "ec2",
        "create_launch_template_version",
        LaunchTemplateName=plan.launch_template,
        SourceVersion="$Default",
        VersionDescription=version_description(plan),
        LaunchTemplateData={
            "UserData": base64.b64encode(plan.user_data.encode()).decode(),
            "MetadataOptions": METADATA_OPTIONS,
        },
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
    """The new group's target group: the release's port and health path, and the plan's
    settings (the serving group's, or a first group's explicit health check)."""
    spec = plan.target_group
    tags = {**dict(spec.tags), **group_tags(plan.app, plan.release.version, plan.rollout_id)}
    got = await gw.call(
        "elbv2",
        "create_target_group",
        Name=plan.new_group,
        Port=int(plan.release.port),
        VpcId=plan.traffic.vpc_id,
        TargetType="instance",
        HealthCheckPath=plan.release.health_path,
        Tags=elb_tag_list(tags),
        **spec.params,
    )
    arn = str(got["TargetGroups"][0]["TargetGroupArn"])
    if spec.attributes:  # a target group just created: ELB may not know it everywhere yet
        await after_create(
            gw,
            "elbv2",
            "modify_target_group_attributes",
            TargetGroupArn=arn,
            Attributes=[{"Key": k, "Value": v} for k, v in spec.attributes],
        )
    return arn


async def create_group(
    gw: Gateway, plan: RolloutPlan, target_group_arn: str, version: str, capacity: Capacity
) -> ServerGroup:
    """The new ASG on the template version, registered with its target group, carrying the
    serving group's settings, hooks, warm pool, schedules and (rewritten) scaling policies.

    It is created empty and configured before it is sized, so its first instance already
    has every hook and suspended process; then the retained group stops scaling in (its
    target tracking's scale-in off, its scheduled actions suspended) until the rollout ends.
    """
    old, clone = plan.old_group, plan.group_clone
    subnets = plan.subnets
    group = ServerGroup(
        name=plan.new_group,
        app=plan.app,
        release=plan.release.version,
        rollout_id=plan.rollout_id,
        target_group_arn=target_group_arn,
        launch_template=plan.launch_template,
        launch_template_version=version,
        capacity=capacity,
        health_check_type=plan.health_check_type,
        grace_period=plan.grace_period,
        subnets=subnets,
    )
    template = {"LaunchTemplateName": plan.launch_template, "Version": version}
    where: dict[str, Any] = {"LaunchTemplate": template}
    if clone.mixed_instances_policy:
        mixed = dict(clone.mixed_instances_policy)
        mixed["LaunchTemplate"] = {
            **mixed.get("LaunchTemplate", {}),
            "LaunchTemplateSpecification": template,
        }
        where = {"MixedInstancesPolicy": mixed}
    own = asg_tag_list(plan.app, plan.release.version, plan.rollout_id, group.name)
    mine = {str(t["Key"]) for t in own}
    await gw.call(
        "autoscaling",
        "create_auto_scaling_group",
        AutoScalingGroupName=group.name,
        MinSize=0,
        MaxSize=group.capacity.max_size,
        DesiredCapacity=0,
        TargetGroupARNs=[target_group_arn],
        VPCZoneIdentifier=subnets,
        HealthCheckType=group.health_check_type,
        HealthCheckGracePeriod=group.grace_period,
        Tags=[*own, *(_tag(t, group.name) for t in clone.tags if t["Key"] not in mine)],
        **where,
        **clone.params,
    )
    await _configure(gw, plan, group.name, target_group_arn)
    await set_capacity(gw, group.name, capacity)
    if old is not None and plan.scale_in_held:
        await hold_scale_in(gw, old.name, plan.scale_in_held)
    if old is not None and plan.schedules_held:
        await hold_schedules(gw, old.name)
    return group


def _tag(tag: dict[str, Any], group: str) -> dict[str, Any]:
    return {**tag, "ResourceId": group, "ResourceType": "auto-scaling-group"}


async def _configure(gw: Gateway, plan: RolloutPlan, name: str, target_group_arn: str) -> None:
    """What CreateAutoScalingGroup cannot say: hooks, warm pool, suspended processes,
    metrics, SNS notifications, schedules and scaling policies, each as the serving group
    has it."""
    clone, old = plan.group_clone, plan.old_group

    async def on_group(operation: str, **params: Any) -> None:
        await gw.call("autoscaling", operation, AutoScalingGroupName=name, **params)

    for hook in clone.lifecycle_hooks:
        await on_group("put_lifecycle_hook", **hook)
    if clone.warm_pool:
        await on_group("put_warm_pool", **clone.warm_pool)
    if clone.suspended_processes:
        await on_group("suspend_processes", ScalingProcesses=list(clone.suspended_processes))
    if clone.metrics:
        await on_group(
            "enable_metrics_collection",
            Metrics=list(clone.metrics),
            Granularity=clone.metrics_granularity,
        )
    for topic, kinds in clone.notifications:
        await on_group(
            "put_notification_configuration", TopicARN=topic, NotificationTypes=list(kinds)
        )
    for action in clone.scheduled_actions:
        await on_group("put_scheduled_update_group_action", **action)
    for policy in clone.policies:
        await gw.call(
            "autoscaling",
            "put_scaling_policy",
            **policy_params(
                policy,
                old_group=old.name if old else "",
                new_group=name,
                old_tg=old.target_group_arn if old else "",
                new_tg=target_group_arn,
            ),
        )


async def restore_retained(gw: Gateway, plan: RolloutPlan) -> None:
    """Let the retained group scale in and run its schedules again: the rollout is undone,
    it serves on."""
    if plan.old_group is not None and plan.scale_in_held:
        await release_scale_in(gw, plan.old_group.name, plan.scale_in_held)
    if plan.old_group is not None and plan.schedules_held:
        await release_schedules(gw, plan.old_group.name)


async def set_capacity(gw: Gateway, name: str, capacity: Capacity) -> None:
    await gw.call(
        "autoscaling",
        "update_auto_scaling_group",
        AutoScalingGroupName=name,
        MinSize=capacity.min_size,
        MaxSize=capacity.max_size,
        DesiredCapacity=capacity.desired,
    )
