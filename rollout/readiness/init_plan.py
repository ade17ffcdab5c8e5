"""What `freshfleet init APP` would create: the plan, found by name and tag, creating nothing.

See `rollout.readiness.init_app` for what the pieces are and how they are created.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from rollout.aws.gateway import AwsError, Gateway
from rollout.fleet.traffic import discover_traffic, elb_tags
from rollout.model import TAG_APP, TAG_INSTANCE_SUBNETS
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
    instance_subnet_ids: tuple[str, ...] = ()  # the instances' (default: the ALB's subnets)
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
    # | instance subnets (the launch template's tag naming them)
    name: str
    detail: str  # what it is or will be, in a line
    resource_id: str = ""  # id or ARN once it exists
    exists: bool = False  # found before this run: nothing to do (but `repair`)
    repair: bool = False  # a security group found without its ingress rule: restore it
    created: bool = False  # created by apply_init
    parent: str = ""  # the listener a rule goes on

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "detail": self.detail,
            "id": self.resource_id,
            "exists": self.exists,
            "repair": self.repair,
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
        return tuple(s for s in self.steps if not s.exists or s.repair)

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


def app_tags(app: str, name: str) -> list[dict[str, str]]:
    """The tags of every resource init makes: the app's, and a Name."""
    return [{"Key": TAG_APP, "Value": app}, {"Key": "Name", "Value": name}]


def fixed_503() -> dict[str, Any]:
    """The listener's (or rule's) action until the first deploy: a plain 503."""
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
    shared = await shared_alb(gw, options.alb_arn) if options.alb_arn else None
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
    steps = await _check_ingress(gw, options, steps, shared)
    shared_alb_tag = False
    if shared:
        steps.append(await _find_rule(gw, shared, options))
        tags = (await elb_tags(gw, [shared["LoadBalancerArn"]])).get(shared["LoadBalancerArn"], {})
        shared_alb_tag = TAG_APP not in tags
    else:
        point = (await discover_traffic(gw)).get(app)
        if point is not None and not point.rule_arn:
            lb_step = await _app_alb(gw, point.load_balancer_arn)  # whatever its name
        else:
            lb_step = await _find_alb(gw, app, subnets, options)
        steps.append(lb_step)
        steps.append(await _find_listener(gw, app, lb_step.resource_id, options))
    await _check_instance_subnets(gw, vpc_id, options.instance_subnet_ids)
    lt_step, lt_tags = await _find_launch_template(gw, options)
    if not lt_step.exists and not options.image_id:
        raise InitError(
            "creating the launch template needs --image-id AMI (a base image built as in "
            "docs/BASE_IMAGE.md)"
        )
    steps.append(lt_step)
    wanted = ",".join(options.instance_subnet_ids)
    if lt_step.exists and wanted and lt_tags.get(TAG_INSTANCE_SUBNETS, "") != wanted:
        steps.append(
            InitStep(
                "instance subnets",
                lt_step.name,
                f"instances in {', '.join(options.instance_subnet_ids)} "
                f"(tag {TAG_INSTANCE_SUBNETS} on {lt_step.name})",
                lt_step.resource_id,
            )
        )
    return InitPlan(options, vpc_id, tuple(subnets), tuple(steps), shared_alb_tag)


def ingress_rule(options: InitOptions, group_name: str, alb_groups: list[str]) -> dict[str, Any]:
    """The one ingress rule a security group of the app needs: the ALB's admits the
    listener port from anywhere, the instances' the app port from `alb_groups` only."""
    if group_name == alb_sg_name(options.app):
        return {
            "IpProtocol": "tcp",
            "FromPort": options.listener_port,
            "ToPort": options.listener_port,
            # Rule descriptions allow no apostrophe.
            "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "users of the app"}],
        }
    return {
        "IpProtocol": "tcp",
        "FromPort": options.app_port,
        "ToPort": options.app_port,
        "UserIdGroupPairs": [
            {"GroupId": g, "Description": "the load balancer"} for g in alb_groups if g
        ],
    }


def missing_sources(
    rule: dict[str, Any], permissions: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The part of `rule` that `permissions` (a group's IpPermissions) lacks, as a rule of
    its own; None when every source of the rule is already admitted."""
    same = [
        p
        for p in permissions
        if p.get("IpProtocol") == rule["IpProtocol"]
        and p.get("FromPort") == rule["FromPort"]
        and p.get("ToPort") == rule["ToPort"]
    ]
    cidrs = {r.get("CidrIp") for p in same for r in p.get("IpRanges", [])}
    groups = {g.get("GroupId") for p in same for g in p.get("UserIdGroupPairs", [])}
    ranges = [r for r in rule.get("IpRanges", []) if r["CidrIp"] not in cidrs]
    pairs = [g for g in rule.get("UserIdGroupPairs", []) if g["GroupId"] not in groups]
    if not ranges and not pairs:
        return None
    lacking = {k: rule[k] for k in ("IpProtocol", "FromPort", "ToPort")}
    if ranges:
        lacking["IpRanges"] = ranges
    if pairs:
        lacking["UserIdGroupPairs"] = pairs
    return lacking


async def _check_ingress(
    gw: Gateway, options: InitOptions, steps: list[InitStep], shared: dict[str, Any] | None
) -> list[InitStep]:
    """The security-group steps, each found one marked `repair` when it lacks its rule
    (an earlier init stopped between CreateSecurityGroup and the rule, or someone removed
    it): a run that skipped it would leave every health check timing out."""
    alb_step = next((s for s in steps if s.name == alb_sg_name(options.app)), None)
    alb_groups = (
        [str(g) for g in shared.get("SecurityGroups", [])]
        if shared
        else [alb_step.resource_id if alb_step else ""]
    )
    out = []
    for step in steps:
        if step.exists:
            rule = ingress_rule(options, step.name, alb_groups)
            got = await gw.call("ec2", "describe_security_groups", GroupIds=[step.resource_id])
            permissions = got["SecurityGroups"][0].get("IpPermissions", [])
            if missing_sources(rule, permissions) is not None:
                step = replace(
                    step, detail=f"{step.detail}; lacks it: the rule will be restored", repair=True
                )
        out.append(step)
    return out


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


async def _app_alb(gw: Gateway, arn: str) -> InitStep:
    """The ALB that already carries the app's tagged listener: nothing to create."""
    got = await gw.call("elbv2", "describe_load_balancers", LoadBalancerArns=[arn])
    lb = got["LoadBalancers"][0]
    subnets = ", ".join(z.get("SubnetId", "") for z in lb.get("AvailabilityZones", []))
    detail = f"{lb.get('Scheme', 'internet-facing')} ALB in {subnets}"
    return InitStep("load balancer", str(lb["LoadBalancerName"]), detail, arn, exists=True)


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
    owner = (await elb_tags(gw, [arn])).get(arn, {}).get(TAG_APP)
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
    tags = await elb_tags(gw, [li["ListenerArn"] for li in listeners])
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


async def shared_alb(gw: Gateway, arn: str) -> dict[str, Any]:
    """The shared ALB's description; InitError when there is no such load balancer."""
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
    tags = await elb_tags(gw, [r["RuleArn"] for r in rules])
    when = options.host_header or options.path_pattern
    detail = f"on {listener_arn} when {when}: answers 503 until the first deploy"
    if TAG_APP not in (await elb_tags(gw, [listener_arn])).get(listener_arn, {}):
        # iam/deployer.json adds rules only to a listener tagged for an app; the deployer may
        # not tag one it did not create, so the shared ALB's owner does it once.
        detail += (
            f"; iam/deployer.json adds rules only to a listener tagged {TAG_APP}: have its "
            f"owner run `aws elbv2 add-tags --resource-arns {listener_arn} "
            f"--tags Key={TAG_APP},Value={options.app}`"
        )
    for rule in rules:
        if tags.get(rule["RuleArn"], {}).get(TAG_APP) == options.app:
            arn = str(rule["RuleArn"])
            return InitStep("listener rule", when, detail, arn, exists=True, parent=listener_arn)
    return InitStep("listener rule", when, detail, parent=listener_arn)


async def _check_instance_subnets(gw: Gateway, vpc_id: str, subnet_ids: tuple[str, ...]) -> None:
    """InitError unless every instance subnet exists in the app's VPC."""
    if not subnet_ids:
        return
    try:
        got = await gw.call("ec2", "describe_subnets", SubnetIds=list(subnet_ids))
    except AwsError as exc:
        raise InitError(f"instance subnets {', '.join(subnet_ids)}: {exc}") from exc
    elsewhere = [s["SubnetId"] for s in got.get("Subnets", []) if s.get("VpcId") != vpc_id]
    if elsewhere:
        raise InitError(f"instance subnets {', '.join(elsewhere)} are not in {vpc_id}")


async def _find_launch_template(
    gw: Gateway, options: InitOptions
) -> tuple[InitStep, dict[str, str]]:
    """The launch template's step, and its tags when it exists."""
    name = launch_template_name(options.app)
    profile = options.instance_profile or "no instance profile"
    detail = (
        f"{options.image_id or '?'} {options.instance_type}, IMDSv2 required (hop limit 2), "
        f"{profile}"
    )
    if options.instance_subnet_ids:
        detail += f", instances in {', '.join(options.instance_subnet_ids)}"
    try:
        got = await gw.call("ec2", "describe_launch_templates", LaunchTemplateNames=[name])
    except AwsError as exc:
        if "NotFound" not in exc.code:
            raise
        return InitStep("launch template", name, detail), {}
    templates = got.get("LaunchTemplates", [])
    if not templates:
        return InitStep("launch template", name, detail), {}
    lt = templates[0]
    step = InitStep(
        "launch template",
        name,
        f"default version {lt.get('DefaultVersionNumber', '?')}",
        str(lt["LaunchTemplateId"]),
        exists=True,
    )
    return step, {t["Key"]: t.get("Value", "") for t in lt.get("Tags", [])}
