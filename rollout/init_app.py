"""`freshfleet init APP`: the stable, target-group-free parts of an app in a VPC (DESIGN §3).

For a dedicated load balancer: two security groups (the ALB's, open on the listener port;
the instances', open on the app port to the ALB only), an internet-facing ALB and a
listener; on a shared ALB (`alb_arn`), a listener rule instead. The listener (or rule)
answers a fixed 503 until the first deploy replaces its action with a weighted forward
(`rollout.rollouts.traffic.set_weights`). Then the launch template `freshfleet-<app>`:
IMDSv2 required with hop limit 2 (containers), the image, type, instance profile and
security group, and a placeholder user data that every rollout's version replaces.

Everything is tagged `freshfleet:app=<app>` and found by name or tag before it is created,
so a second run creates nothing. `plan_init` only reads; `apply_init` creates what the
plan lacks and returns what it did.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from typing import Any

from rollout.gateway import AwsError, Gateway
from rollout.model import TAG_APP
from rollout.naming import launch_template_name, valid_app_name

ALB_NAME_LIMIT = 32
PLACEHOLDER_USER_DATA = (
    "#cloud-config\n# freshfleet: each rollout's launch-template version carries its release\n"
)
NOT_DEPLOYED_BODY = "no release deployed yet (freshfleet)"


class InitError(ValueError):
    """The request cannot be planned (bad app name, no VPC, an ALB name taken, ...)."""


@dataclass(frozen=True, slots=True)
class InitOptions:
    """What `init` was asked for; empty values are chosen from the account (default VPC)."""

    app: str
    image_id: str = ""
    instance_type: str = "t3.small"
    instance_profile: str = ""
    vpc_id: str = ""
    subnet_ids: tuple[str, ...] = ()
    alb_arn: str = ""  # a shared ALB: add a listener rule instead of creating an ALB
    host_header: str = ""  # the rule's condition on a shared ALB
    path_pattern: str = ""
    listener_port: int = 80
    app_port: int = 8080
    internal: bool = False


@dataclass(frozen=True, slots=True)
class InitStep:
    """One resource of the app: found already, or to be (or just) created."""

    kind: str  # security group | load balancer | listener | listener rule | launch template
    name: str
    detail: str  # what it is or will be, in a line
    resource_id: str = ""  # id or ARN once it exists
    exists: bool = False  # found before this run: nothing to do
    created: bool = False  # created by apply_init
    parent: str = ""  # the listener a rule goes on

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "detail": self.detail,
            "id": self.resource_id,
            "exists": self.exists,
            "created": self.created,
        }


@dataclass(frozen=True, slots=True)
class InitPlan:
    """The steps of `init` in the order they run, with the VPC and subnets chosen."""

    options: InitOptions
    vpc_id: str
    subnet_ids: tuple[str, ...]
    steps: tuple[InitStep, ...] = ()
    shared_alb_tag: bool = False  # the shared ALB needs a freshfleet:app tag to be discovered

    @property
    def to_create(self) -> tuple[InitStep, ...]:
        return tuple(s for s in self.steps if not s.exists)

    def step(self, kind: str) -> InitStep | None:
        return next((s for s in self.steps if s.kind == kind), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "app": self.options.app,
            "vpc_id": self.vpc_id,
            "subnet_ids": list(self.subnet_ids),
            "steps": [s.as_dict() for s in self.steps],
        }


def alb_name(app: str) -> str:
    """The app's dedicated ALB: `freshfleet-<app>` cut to ALB's 32 characters."""
    return f"freshfleet-{app}"[:ALB_NAME_LIMIT].rstrip("-")


def alb_sg_name(app: str) -> str:
    return f"freshfleet-{app}-alb"


def instance_sg_name(app: str) -> str:
    return f"freshfleet-{app}-instances"


def _tags(app: str, name: str) -> list[dict[str, str]]:
    return [{"Key": TAG_APP, "Value": app}, {"Key": "Name", "Value": name}]


def _fixed_503() -> dict[str, Any]:
    return {
        "Type": "fixed-response",
        "FixedResponseConfig": {
            "StatusCode": "503",
            "ContentType": "text/plain",
            "MessageBody": NOT_DEPLOYED_BODY,
        },
    }


async def plan_init(gw: Gateway, options: InitOptions) -> InitPlan:
    """Read the account and say what `init` would create; creates nothing.

    Raises InitError when the request cannot work (bad app name, no VPC to choose, too few
    subnets for an ALB, an ALB name taken by something else, a launch template to create
    without an image id).
    """
    app = options.app
    if not valid_app_name(app):
        raise InitError(
            f"bad app name {app!r}: lower-case letters, digits and inner hyphens, 1-32 characters"
        )
    if options.alb_arn and not (options.host_header or options.path_pattern):
        raise InitError("a rule on a shared ALB needs --host or --path to select the app's traffic")
    shared = await _shared_alb(gw, options.alb_arn) if options.alb_arn else None
    vpc_id = options.vpc_id or (shared or {}).get("VpcId", "") or await _default_vpc(gw)
    subnets = options.subnet_ids or await _subnets(gw, vpc_id)
    if not shared and len(subnets) < 2:
        raise InitError(
            f"an ALB needs subnets in two availability zones; VPC {vpc_id} has {len(subnets)}"
        )
    steps: list[InitStep] = []
    if not shared:
        steps.append(
            await _find_sg(
                gw,
                vpc_id,
                alb_sg_name(app),
                f"in {vpc_id}: allows TCP {options.listener_port} from anywhere",
            )
        )
    steps.append(
        await _find_sg(
            gw,
            vpc_id,
            instance_sg_name(app),
            f"in {vpc_id}: allows TCP {options.app_port} from the load balancer only",
        )
    )
    shared_alb_tag = False
    if shared:
        steps.append(await _find_rule(gw, shared, options))
        tags = (await _elb_tags(gw, [shared["LoadBalancerArn"]])).get(shared["LoadBalancerArn"], {})
        shared_alb_tag = TAG_APP not in tags
    else:
        lb_step = await _find_alb(gw, app, subnets, options)
        steps.append(lb_step)
        steps.append(await _find_listener(gw, app, lb_step.resource_id, options))
    lt_step = await _find_launch_template(gw, options)
    if not lt_step.exists and not options.image_id:
        raise InitError(
            "creating the launch template needs --image-id AMI (a base image built as in "
            "docs/BASE_IMAGE.md)"
        )
    steps.append(lt_step)
    return InitPlan(options, vpc_id, tuple(subnets), tuple(steps), shared_alb_tag)


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
    return replace(plan, steps=tuple(out), shared_alb_tag=False)


# --- finding what exists -------------------------------------------------------------


async def _default_vpc(gw: Gateway) -> str:
    vpcs = await gw.paginate("ec2", "describe_vpcs", "Vpcs")
    default = [v["VpcId"] for v in vpcs if v.get("IsDefault")]
    if default:
        return str(default[0])
    if len(vpcs) == 1:
        return str(vpcs[0]["VpcId"])
    if not vpcs:
        raise InitError("this region has no VPC: create one (or pass --region)")
    raise InitError(
        f"{len(vpcs)} VPCs and none is the default: pass --vpc "
        + " or --vpc ".join(v["VpcId"] for v in vpcs[:5])
    )


async def _subnets(gw: Gateway, vpc_id: str) -> tuple[str, ...]:
    """One subnet per availability zone (the first by id), in zone order."""
    subnets = await gw.paginate(
        "ec2", "describe_subnets", "Subnets", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
    )
    by_zone: dict[str, str] = {}
    for s in sorted(subnets, key=lambda s: str(s["SubnetId"])):
        by_zone.setdefault(str(s.get("AvailabilityZone", "")), str(s["SubnetId"]))
    return tuple(by_zone[z] for z in sorted(by_zone))


async def _find_sg(gw: Gateway, vpc_id: str, name: str, detail: str) -> InitStep:
    got = await gw.paginate(
        "ec2",
        "describe_security_groups",
        "SecurityGroups",
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": [name]},
        ],
    )
    if got:
        return InitStep("security group", name, detail, str(got[0]["GroupId"]), exists=True)
    return InitStep("security group", name, detail)


async def _find_alb(
    gw: Gateway, app: str, subnets: tuple[str, ...], options: InitOptions
) -> InitStep:
    name = alb_name(app)
    scheme = "internal" if options.internal else "internet-facing"
    detail = f"{scheme} ALB in {', '.join(subnets)}"
    try:
        got = await gw.call("elbv2", "describe_load_balancers", Names=[name])
    except AwsError as exc:
        if exc.code != "LoadBalancerNotFound":
            raise
        return InitStep("load balancer", name, detail)
    arn = str(got["LoadBalancers"][0]["LoadBalancerArn"])
    owner = (await _elb_tags(gw, [arn])).get(arn, {}).get(TAG_APP)
    if owner != app:
        raise InitError(
            f"a load balancer named {name} exists but is not tagged {TAG_APP}={app}: "
            "use it with --alb ARN (a listener rule), or delete it"
        )
    return InitStep("load balancer", name, detail, arn, exists=True)


async def _find_listener(gw: Gateway, app: str, lb_arn: str, options: InitOptions) -> InitStep:
    name = f"HTTP:{options.listener_port}"
    detail = "answers 503 until the first deploy, then forwards to the serving group"
    if not lb_arn:
        return InitStep("listener", name, detail)
    listeners = await gw.paginate(
        "elbv2", "describe_listeners", "Listeners", LoadBalancerArn=lb_arn
    )
    tags = await _elb_tags(gw, [li["ListenerArn"] for li in listeners])
    # Found by its tag first: a local endpoint may serve the listener on another port.
    for li in listeners:
        if tags.get(li["ListenerArn"], {}).get(TAG_APP) == app:
            return InitStep("listener", name, detail, str(li["ListenerArn"]), exists=True)
    on_port = [li for li in listeners if int(li.get("Port", 0)) == options.listener_port]
    if not on_port:
        return InitStep("listener", name, detail)
    arn = str(on_port[0]["ListenerArn"])
    if tags.get(arn, {}).get(TAG_APP) != app:
        raise InitError(
            f"the load balancer's listener on port {options.listener_port} is not tagged "
            f"{TAG_APP}={app}: tag it, or pass another --listener-port"
        )
    return InitStep("listener", name, detail, arn, exists=True)


async def _shared_alb(gw: Gateway, arn: str) -> dict[str, Any]:
    try:
        got = await gw.call("elbv2", "describe_load_balancers", LoadBalancerArns=[arn])
    except AwsError as exc:
        if exc.code in ("LoadBalancerNotFound", "ValidationError"):
            raise InitError(f"no load balancer {arn}") from exc
        raise
    return dict(got["LoadBalancers"][0])


async def _find_rule(gw: Gateway, lb: dict[str, Any], options: InitOptions) -> InitStep:
    listeners = await gw.paginate(
        "elbv2", "describe_listeners", "Listeners", LoadBalancerArn=lb["LoadBalancerArn"]
    )
    on_port = [li for li in listeners if int(li.get("Port", 0)) == options.listener_port]
    if not on_port and len(listeners) == 1:
        on_port = listeners  # the ALB's only listener (a local endpoint moves its port)
    if not on_port:
        raise InitError(
            f"load balancer {lb.get('LoadBalancerName', '')} has no listener on port "
            f"{options.listener_port}: pass --listener-port"
        )
    listener_arn = str(on_port[0]["ListenerArn"])
    rules = await gw.paginate("elbv2", "describe_rules", "Rules", ListenerArn=listener_arn)
    rules = [r for r in rules if not r.get("IsDefault")]
    tags = await _elb_tags(gw, [r["RuleArn"] for r in rules])
    when = options.host_header or options.path_pattern
    detail = f"on {listener_arn} when {when}: answers 503 until the first deploy"
    for rule in rules:
        if tags.get(rule["RuleArn"], {}).get(TAG_APP) == options.app:
            return InitStep("listener rule", when, detail, str(rule["RuleArn"]), exists=True)
    return InitStep("listener rule", when, detail, parent=listener_arn)


async def _find_launch_template(gw: Gateway, options: InitOptions) -> InitStep:
    name = launch_template_name(options.app)
    profile = options.instance_profile or "no instance profile"
    detail = (
        f"{options.image_id or '?'} {options.instance_type}, IMDSv2 required (hop limit 2), "
        f"{profile}"
    )
    try:
        got = await gw.call("ec2", "describe_launch_templates", LaunchTemplateNames=[name])
    except AwsError as exc:
        if "NotFound" not in exc.code:
            raise
        return InitStep("launch template", name, detail)
    templates = got.get("LaunchTemplates", [])
    if not templates:
        return InitStep("launch template", name, detail)
    lt = templates[0]
    return InitStep(
        "launch template",
        name,
        f"default version {lt.get('DefaultVersionNumber', '?')}",
        str(lt["LaunchTemplateId"]),
        exists=True,
    )


async def _elb_tags(gw: Gateway, arns: list[str]) -> dict[str, dict[str, str]]:
    tags: dict[str, dict[str, str]] = {}
    for i in range(0, len(arns), 20):
        got = await gw.call("elbv2", "describe_tags", ResourceArns=arns[i : i + 20])
        for desc in got.get("TagDescriptions", []):
            tags[desc["ResourceArn"]] = {t["Key"]: t.get("Value", "") for t in desc.get("Tags", [])}
    return tags


# --- creating what is missing --------------------------------------------------------


def _id_of(done: dict[str, InitStep], name: str) -> str:
    return done[name].resource_id if name in done else ""


async def _create_sg(
    gw: Gateway, plan: InitPlan, step: InitStep, done: dict[str, InitStep]
) -> InitStep:
    app, options = plan.options.app, plan.options
    got = await gw.call(
        "ec2",
        "create_security_group",
        GroupName=step.name,
        Description=f"freshfleet {app}: " + step.detail.partition(": ")[2],
        VpcId=plan.vpc_id,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": _tags(app, step.name)}],
    )
    group_id = str(got["GroupId"])
    if step.name == alb_sg_name(app):
        rule: dict[str, Any] = {
            "IpProtocol": "tcp",
            "FromPort": options.listener_port,
            "ToPort": options.listener_port,
            "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "the app's users"}],
        }
    else:
        sources = [_id_of(done, alb_sg_name(app))] if not options.alb_arn else []
        if options.alb_arn:
            lb = await _shared_alb(gw, options.alb_arn)
            sources = [str(s) for s in lb.get("SecurityGroups", [])]
        rule = {
            "IpProtocol": "tcp",
            "FromPort": options.app_port,
            "ToPort": options.app_port,
            "UserIdGroupPairs": [
                {"GroupId": s, "Description": "the load balancer"} for s in sources if s
            ],
        }
    await gw.call("ec2", "authorize_security_group_ingress", GroupId=group_id, IpPermissions=[rule])
    return replace(step, resource_id=group_id, created=True)


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
        Tags=_tags(app, step.name),
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
        DefaultActions=[_fixed_503()],
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
        Actions=[_fixed_503()],
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
        "MetadataOptions": {
            "HttpTokens": "required",
            "HttpPutResponseHopLimit": 2,  # the release's container is one hop further
            "HttpEndpoint": "enabled",
            "InstanceMetadataTags": "enabled",
        },
        "UserData": base64.b64encode(PLACEHOLDER_USER_DATA.encode()).decode(),
    }
    if options.instance_profile:
        data["IamInstanceProfile"] = {"Name": options.instance_profile}
    got = await gw.call(
        "ec2",
        "create_launch_template",
        LaunchTemplateName=step.name,
        VersionDescription=f"freshfleet {app}: created by init",
        LaunchTemplateData=data,
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": _tags(app, step.name)}],
    )
    return replace(step, resource_id=str(got["LaunchTemplate"]["LaunchTemplateId"]), created=True)
