"""The AWS calls that make an app's serving server group, shared by the demo seed and the
benchmarks' big fleet: the default VPC's subnets, the app's site (`create_app_site`: its ALB,
where its groups go), and its first server group there (`create_serving_group`: a target
group, a listener forwarding all traffic to it, and the ASG registered in it).

Each resource is one API call as any client would make it; the callers choose names, tags
and sizes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rollout.aws.eventual import after_create
from rollout.aws.gateway import Gateway
from rollout.config import Config
from rollout.deploy.health_settings import BOOT_MARGIN, MIN_GRACE_SECONDS, grace_seconds
from rollout.deploy.health_settings import HealthCheck as _HealthCheck
from rollout.model import TAG_APP, Release
from rollout.naming import asg_tag_list, elb_tag_list, group_tags, server_group_name

DEMO_CHECK_SECONDS = 5  # the demo's target group checks every 5 s ...
DEMO_HEALTHY_THRESHOLD = 2  # ... and is healthy after 2 passes
# The AWS console's default grace: the least the demo gives, since a simulated boot on a
# fast time scale also waits on what the scale does not shrink (the prober's tick, a busy
# machine), and its grace must not be a race with that.
DEMO_MIN_GRACE_SECONDS = 300


def demo_grace_seconds(config: Config, boot_mode: str) -> int:
    """The demo group's HealthCheckGracePeriod (AWS seconds), long enough for its boots, since
    its ASG replaces an instance whose target is unhealthy once the grace is over: a simulated
    boot runs on localaws's clock (pending time and phases, AWS seconds); a real one (a Docker
    build) does not, so it is given the gate deadline of wall time, as the engine gives a
    release with no recorded boot (rollout.deploy.health_settings.grace_seconds)."""
    from localaws.runtimes.simulated import PHASES

    timers = config.localaws
    check = _HealthCheck(interval=DEMO_CHECK_SECONDS, healthy_threshold=DEMO_HEALTHY_THRESHOLD)
    if boot_mode == "real":
        return grace_seconds(
            None, config.rollout.gate_deadline_seconds, check, time_scale=timers.time_scale
        )
    boot = timers.pending_seconds + len(PHASES) * timers.phase_seconds
    least = max(MIN_GRACE_SECONDS, DEMO_MIN_GRACE_SECONDS)
    return max(least, math.ceil(BOOT_MARGIN * boot) + check.seconds_to_healthy)


async def default_network(gw: Gateway) -> tuple[str, list[str]]:
    """The default VPC's id and its subnet ids, ordered by availability zone."""
    vpc = (
        await gw.call("ec2", "describe_vpcs", Filters=[{"Name": "is-default", "Values": ["true"]}])
    )["Vpcs"][0]["VpcId"]
    subnets = sorted(
        (await gw.call("ec2", "describe_subnets", Filters=[{"Name": "vpc-id", "Values": [vpc]}]))[
            "Subnets"
        ],
        key=lambda s: s["AvailabilityZone"],
    )
    return vpc, [s["SubnetId"] for s in subnets]


@dataclass(frozen=True, slots=True)
class AppSite:
    """Where an app's server groups go: its VPC and the subnets its ALB enables, that ALB,
    and the app's tags, which its ALB, listeners and launch template carry."""

    app: str
    vpc: str
    subnets: tuple[str, ...]
    load_balancer_arn: str
    tags: tuple[dict[str, str], ...]


async def create_app_site(
    gw: Gateway, app: str, vpc: str, subnets: list[str], **alb: Any
) -> AppSite:
    """The app's internet-facing application load balancer, named after the app and tagged
    with it, in `subnets` of `vpc` (plus `alb` arguments, e.g. `SecurityGroups`); returns
    the site it makes, where the app's server groups go."""
    tags = elb_tag_list({TAG_APP: app})
    lb = (
        await gw.call(
            "elbv2",
            "create_load_balancer",
            Name=app,
            Subnets=subnets,
            **alb,
            Scheme="internet-facing",
            Type="application",
            Tags=tags,
        )
    )["LoadBalancers"][0]
    return AppSite(
        app=app,
        vpc=vpc,
        subnets=tuple(subnets),
        load_balancer_arn=str(lb["LoadBalancerArn"]),
        tags=tuple(tags),
    )


async def create_target_group(
    gw: Gateway,
    name: str,
    *,
    port: int,
    vpc: str,
    health_path: str,
    tags: list[dict[str, str]],
    **health: Any,
) -> str:
    """An HTTP instance target group checked on `health_path` every 5 s, healthy after 2
    checks (plus `health`, further health check arguments); returns its ARN."""
    arn = (
        await gw.call(
            "elbv2",
            "create_target_group",
            Name=name,
            Protocol="HTTP",
            Port=port,
            VpcId=vpc,
            TargetType="instance",
            HealthCheckPath=health_path,
            HealthCheckIntervalSeconds=5,
            HealthyThresholdCount=2,
            **health,
            Tags=tags,
        )
    )["TargetGroups"][0]["TargetGroupArn"]
    return str(arn)


async def create_forward_listener(
    gw: Gateway, lb_arn: str, target_group: str, tags: list[dict[str, str]]
) -> str:
    """An HTTP listener on port 80 of the ALB sending all traffic to `target_group`;
    returns its ARN."""
    forward = {"TargetGroups": [{"TargetGroupArn": target_group, "Weight": 100}]}
    got = await gw.call(
        "elbv2",
        "create_listener",
        LoadBalancerArn=lb_arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {
                "Type": "forward",
                "ForwardConfig": forward,
            }
        ],
        Tags=tags,
    )
    return str(got["Listeners"][0]["ListenerArn"])


async def create_serving_group(
    gw: Gateway,
    release: Release,
    site: AppSite,
    *,
    rollout_id: str,
    template: str,
    template_version: str,
    capacity: int,
    grace_period: int = DEMO_MIN_GRACE_SECONDS,
    target_group_attributes: list[dict[str, str]] | None = None,
    **health: Any,
) -> tuple[str, str, str]:
    """The first server group of the release's app, at the app's `site`, serving all its
    traffic, named and tagged as the engine names and tags a rollout's group: its target
    group in the site's VPC on the release's port and health path (`health`, further health
    check arguments; then `target_group_attributes` when given), an HTTP listener on the
    site's load balancer forwarding everything to it, then the ASG of `capacity` instances of
    the template version in the site's subnets, registered in the target group, with ELB
    health checks after `grace_period` (AWS seconds). Returns (group name, target group ARN,
    listener ARN). Raises ValueError for a release of another app than the site's."""
    app, version = release.app, release.version
    if app != site.app:
        raise ValueError(f"release of {app!r} at the site of {site.app!r}")
    name = server_group_name(app, rollout_id)
    tg = await create_target_group(
        gw,
        name,
        port=release.port,
        vpc=site.vpc,
        health_path=release.health_path,
        tags=elb_tag_list(group_tags(app, version, rollout_id)),
        **health,
    )
    if target_group_attributes:
        await after_create(
            gw,
            "elbv2",
            "modify_target_group_attributes",
            TargetGroupArn=tg,
            Attributes=target_group_attributes,
        )
    listener = await create_forward_listener(gw, site.load_balancer_arn, tg, list(site.tags))
    await gw.call(
        "autoscaling",
        "create_auto_scaling_group",
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": template, "Version": template_version},
        MinSize=capacity,
        MaxSize=capacity,
        DesiredCapacity=capacity,
        VPCZoneIdentifier=",".join(site.subnets),
        TargetGroupARNs=[tg],
        HealthCheckType="ELB",
        HealthCheckGracePeriod=grace_period,
        Tags=asg_tag_list(app, version, rollout_id, name),
    )
    return name, tg, listener
