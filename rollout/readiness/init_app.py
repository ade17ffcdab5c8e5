"""`freshfleet init APP`: the stable, target-group-free parts of an app in a VPC (ARCHITECTURE §3).

For a dedicated load balancer: two security groups (the ALB's, open on the listener port;
the instances', open on the app port to the ALB only), an internet-facing ALB and a
listener; on a shared ALB (`alb_arn`), a listener rule instead. The listener (or rule)
answers a fixed 503 until the first deploy replaces its action with a weighted forward
(`rollout.fleet.traffic.set_weights`). Then the launch template `freshfleet-<app>`:
IMDSv2 required with hop limit 2 (containers), the image, type, instance profile and
security group, and a placeholder user data that every rollout's version replaces; its tag
`freshfleet:instance-subnets` names the subnets a first deploy puts instances in
(`--instance-subnet`; without it, the load balancer's).

Everything is tagged `freshfleet:app=<app>` and found by name or tag before it is created,
so a second run creates nothing. `plan_init` only reads; `apply_init` creates what the
plan lacks and returns what it did.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

from rollout.aws.eventual import after_create
from rollout.aws.gateway import Gateway
from rollout.deploy.launch import METADATA_OPTIONS
from rollout.fleet.traffic import remember_traffic_point
from rollout.model import TAG_APP, TAG_INSTANCE_SUBNETS
from rollout.readiness.init_plan import (
    PLACEHOLDER_USER_DATA,
    InitError,
    InitOptions,
    InitPlan,
    InitStep,
    alb_name,
    alb_sg_name,
    app_tags,
    fixed_503,
    ingress_rule,
    instance_sg_name,
    missing_sources,
    plan_init,
    shared_alb,
)

__all__ = ["InitError", "InitOptions", "InitPlan", "InitStep", "apply_init", "plan_init"]


async def apply_init(gw: Gateway, plan: InitPlan) -> InitPlan:
    """Create every step the plan lacks, in order; returns the plan with ids and `created`.

    Idempotent: steps that exist are left alone. A failure raises AwsError after the
    resources created so far (all tagged, so a second run finds and keeps them).
    """
    options, app = plan.options, plan.options.app
    done: dict[str, InitStep] = {}
    out: list[InitStep] = []
    for step in plan.steps:
        if step.exists:
            if step.repair:
                step = await _repair_ingress(gw, plan, step, done)
            done[step.name] = step
            out.append(step)
            continue
        if step.kind == "security group":
            made = await _create_sg(gw, plan, step, done)
        elif step.kind == "load balancer":
            made = await _create_alb(gw, plan, step, done)
        elif step.kind == "listener":
            made = await _create_listener(gw, plan, step, done)
        elif step.kind == "listener rule":
            made = await _create_rule(gw, plan, step)
        elif step.kind == "instance subnets":
            made = await _tag_instance_subnets(gw, plan, step)
        else:
            made = await _create_launch_template(gw, plan, step, done)
        done[step.name] = made
        out.append(made)
    if plan.shared_alb_tag and options.alb_arn:
        # Discovery looks at load balancers tagged freshfleet:app (any app) first.
        await gw.call(
            "elbv2",
            "add_tags",
            ResourceArns=[options.alb_arn],
            Tags=[{"Key": TAG_APP, "Value": app}],
        )
    await _remember_traffic_point(gw, app, out)
    return replace(plan, steps=tuple(out), shared_alb_tag=False)


async def _remember_traffic_point(gw: Gateway, app: str, steps: list[InitStep]) -> None:
    # Every plan then reads the listener (or rule) from the template, not from a walk.
    rule = next((s for s in steps if s.kind == "listener rule"), None)
    listener = next((s for s in steps if s.kind == "listener"), None)
    if rule is not None and rule.resource_id:
        await remember_traffic_point(gw, app, rule.parent, rule.resource_id)
    elif listener is not None and listener.resource_id:
        await remember_traffic_point(gw, app, listener.resource_id, "")


def _id_of(done: dict[str, InitStep], name: str) -> str:
    return done[name].resource_id if name in done else ""


async def _create_sg(
    gw: Gateway, plan: InitPlan, step: InitStep, done: dict[str, InitStep]
) -> InitStep:
    app = plan.options.app
    got = await gw.call(
        "ec2",
        "create_security_group",
        GroupName=step.name,
        Description=f"freshfleet {app}: " + step.detail.partition(": ")[2],
        VpcId=plan.vpc_id,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": app_tags(app, step.name)}],
    )
    group_id = str(got["GroupId"])
    rule = await _ingress_rule(gw, plan, step, done)
    # A group just created: EC2 may answer InvalidGroup.NotFound for a while.
    await after_create(
        gw, "ec2", "authorize_security_group_ingress", GroupId=group_id, IpPermissions=[rule]
    )
    return replace(step, resource_id=group_id, created=True)


async def _ingress_rule(
    gw: Gateway, plan: InitPlan, step: InitStep, done: dict[str, InitStep]
) -> dict[str, Any]:
    options = plan.options
    if options.alb_arn:
        lb = await shared_alb(gw, options.alb_arn)
        alb_groups = [str(s) for s in lb.get("SecurityGroups", [])]
    else:
        alb_groups = [_id_of(done, alb_sg_name(options.app))]
    return ingress_rule(options, step.name, alb_groups)


async def _repair_ingress(
    gw: Gateway, plan: InitPlan, step: InitStep, done: dict[str, InitStep]
) -> InitStep:
    """An existing security group of the app, its ingress rule added back."""
    rule = await _ingress_rule(gw, plan, step, done)
    got = await gw.call("ec2", "describe_security_groups", GroupIds=[step.resource_id])
    lacking = missing_sources(rule, got["SecurityGroups"][0].get("IpPermissions", []))
    if lacking is not None:
        await gw.call(
            "ec2",
            "authorize_security_group_ingress",
            GroupId=step.resource_id,
            IpPermissions=[lacking],
        )
    detail = step.detail.replace("the rule will be restored", "rule restored")
    return replace(step, detail=detail, repair=False, created=True)


async def _create_alb(
    gw: Gateway, plan: InitPlan, step: InitStep, done: dict[str, InitStep]
) -> InitStep:
    app = plan.options.app
    got = await gw.call(
        "elbv2",
        "create_load_balancer",
        Name=step.name,
        Subnets=list(plan.subnet_ids),
        SecurityGroups=[_id_of(done, alb_sg_name(app))],
        Scheme="internal" if plan.options.internal else "internet-facing",
        Type="application",
        Tags=app_tags(app, step.name),
    )
    lb = got["LoadBalancers"][0]
    return replace(
        step,
        resource_id=str(lb["LoadBalancerArn"]),
        detail=f"{step.detail}, DNS {lb.get('DNSName', '')}",
        created=True,
    )


async def _create_listener(
    gw: Gateway, plan: InitPlan, step: InitStep, done: dict[str, InitStep]
) -> InitStep:
    app = plan.options.app
    got = await gw.call(
        "elbv2",
        "create_listener",
        LoadBalancerArn=_id_of(done, alb_name(app)),
        Protocol="HTTP",
        Port=plan.options.listener_port,
        DefaultActions=[fixed_503()],
        Tags=[{"Key": TAG_APP, "Value": app}],
    )
    return replace(step, resource_id=str(got["Listeners"][0]["ListenerArn"]), created=True)


async def _create_rule(gw: Gateway, plan: InitPlan, step: InitStep) -> InitStep:
    options = plan.options
    listener_arn = step.parent
    rules = await gw.paginate("elbv2", "describe_rules", "Rules", ListenerArn=listener_arn)
    taken = {int(r["Priority"]) for r in rules if str(r.get("Priority", "")).isdigit()}
    priority = next(p for p in range(1, 50001) if p not in taken)
    conditions: list[dict[str, Any]] = []
    if options.host_header:
        conditions.append(
            {"Field": "host-header", "HostHeaderConfig": {"Values": [options.host_header]}}
        )
    if options.path_pattern:
        conditions.append(
            {"Field": "path-pattern", "PathPatternConfig": {"Values": [options.path_pattern]}}
        )
    got = await gw.call(
        "elbv2",
        "create_rule",
        ListenerArn=listener_arn,
        Priority=priority,
        Conditions=conditions,
        Actions=[fixed_503()],
        Tags=[{"Key": TAG_APP, "Value": options.app}],
    )
    return replace(step, resource_id=str(got["Rules"][0]["RuleArn"]), created=True)


async def _create_launch_template(
    gw: Gateway, plan: InitPlan, step: InitStep, done: dict[str, InitStep]
) -> InitStep:
    options, app = plan.options, plan.options.app
    data: dict[str, Any] = {
        "ImageId": options.image_id,
        "InstanceType": options.instance_type,
        "SecurityGroupIds": [_id_of(done, instance_sg_name(app))],
        "MetadataOptions": dict(METADATA_OPTIONS),
        "UserData": base64.b64encode(PLACEHOLDER_USER_DATA.encode()).decode(),
    }
    if options.instance_profile:
        data["IamInstanceProfile"] = {"Name": options.instance_profile}
    tags = app_tags(app, step.name) + _subnet_tags(plan)
    got = await gw.call(
        "ec2",
        "create_launch_template",
        LaunchTemplateName=step.name,
        VersionDescription=f"freshfleet {app}: created by init",
        LaunchTemplateData=data,
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": tags}],
    )
    return replace(step, resource_id=str(got["LaunchTemplate"]["LaunchTemplateId"]), created=True)


def _subnet_tags(plan: InitPlan) -> list[dict[str, str]]:
    """The instance subnets, stored with the app: a first deploy launches into them."""
    subnets = plan.options.instance_subnet_ids
    return [{"Key": TAG_INSTANCE_SUBNETS, "Value": ",".join(subnets)}] if subnets else []


async def _tag_instance_subnets(gw: Gateway, plan: InitPlan, step: InitStep) -> InitStep:
    await gw.call("ec2", "create_tags", Resources=[step.resource_id], Tags=_subnet_tags(plan))
    return replace(step, created=True)
