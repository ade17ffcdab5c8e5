"""An app's traffic point: its listener (or listener rule) and the weights it forwards with.

The one place that finds, reads and sets it, for the rollout and the observer alike
(docs/ARCHITECTURE.md §3). An app's listener or rule carries the tag `freshfleet:app=<app>`
under a load balancer that carries `freshfleet:app` too. Finding it by tags walks load
balancers, listeners and rules, so the ARN found is remembered on the app's launch template
(tags `freshfleet:listener`, `freshfleet:rule`): the template is the app's own stable
resource that `init` and every plan already read by name, so the next plan reads the ARN
there with no walk and no extra table.

Weights are shares of the forward action's traffic in percent, as ELB splits it (each
weight over their sum): a plain forward to one target group, or one group of any weight,
is that group at 100. Every change of weights is ONE `modify_listener` (or `modify_rule`)
call that writes back the whole action list, as AWS replaces it whole: every other action
(authentication, fixed responses) with its `Order`, and the forward's stickiness, kept.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rollout.aws.gateway import AwsError, Gateway
from rollout.errors import RolloutInputError
from rollout.model import TAG_APP
from rollout.naming import launch_template_name

TAG_LISTENER = "freshfleet:listener"  # on the app's launch template: its listener's ARN
TAG_RULE = "freshfleet:rule"  # and, on a shared ALB, its rule's ARN
TAGS_PER_CALL = 20  # elbv2 DescribeTags takes at most 20 ARNs
ROUTING_ACTIONS = ("forward", "redirect", "fixed-response")  # exactly one per list, last
_GONE = ("ListenerNotFound", "RuleNotFound", "LoadBalancerNotFound", "ValidationError")


@dataclass(frozen=True, slots=True)
class TrafficPoint:
    """Where an app's traffic is split: a listener's default actions, or one rule's."""

    app: str
    listener_arn: str
    load_balancer_arn: str
    rule_arn: str = ""
    url: str = ""  # http(s)://<DNSName>:<port>
    vpc_id: str = ""
    subnets: tuple[str, ...] = ()


async def elb_tags(gw: Gateway, arns: Iterable[str]) -> dict[str, dict[str, str]]:
    """Tags of ELBv2 resources by ARN, 20 ARNs per call."""
    todo = list(arns)
    tags: dict[str, dict[str, str]] = {}
    for i in range(0, len(todo), TAGS_PER_CALL):
        out = await gw.call("elbv2", "describe_tags", ResourceArns=todo[i : i + TAGS_PER_CALL])
        for desc in out.get("TagDescriptions", []):
            tags[desc["ResourceArn"]] = {t["Key"]: t.get("Value", "") for t in desc.get("Tags", [])}
    return tags


async def discover_traffic(gw: Gateway, only: str = "") -> dict[str, TrafficPoint]:
    """Every app's traffic point by app name, from the `freshfleet:app` tags of the load
    balancers, their listeners and rules (the first found per app). With `only`, the walk
    stops at that app's."""
    lbs = await gw.paginate("elbv2", "describe_load_balancers", "LoadBalancers")
    lb_tags = await elb_tags(gw, [lb["LoadBalancerArn"] for lb in lbs])
    found: dict[str, TrafficPoint] = {}
    for lb in lbs:
        arn = lb["LoadBalancerArn"]
        if TAG_APP not in lb_tags.get(arn, {}):
            continue
        listeners = await gw.paginate(
            "elbv2", "describe_listeners", "Listeners", LoadBalancerArn=arn
        )
        listener_tags = await elb_tags(gw, [li["ListenerArn"] for li in listeners])
        for li in listeners:
            app = listener_tags.get(li["ListenerArn"], {}).get(TAG_APP)
            if app:
                found.setdefault(app, _point(app, lb, li))
            if only and only in found:
                return found
            # Rules too: a shared listener may route other apps by host or path.
            rules = await gw.paginate(
                "elbv2", "describe_rules", "Rules", ListenerArn=li["ListenerArn"]
            )
            rules = [r for r in rules if not r.get("IsDefault")]
            rule_tags = await elb_tags(gw, [r["RuleArn"] for r in rules])
            for rule in rules:
                app = rule_tags.get(rule["RuleArn"], {}).get(TAG_APP)
                if app:
                    found.setdefault(app, _point(app, lb, li, rule["RuleArn"]))
            if only and only in found:
                return found
    return found


async def find_traffic_point(gw: Gateway, app: str) -> TrafficPoint:
    """The app's listener (or rule on a shared ALB); RolloutInputError when it has none.

    Read from the ARN remembered on the app's launch template (3 or 4 calls); without one
    (or when it names a listener that is gone) found by the tag walk once, then remembered.
    """
    point = await _remembered(gw, app)
    if point is not None:
        return point
    point = (await discover_traffic(gw, only=app)).get(app)
    if point is None:
        raise RolloutInputError(
            f"app {app!r} has no listener or listener rule tagged {TAG_APP}={app} "
            f"(is the app name right? `freshfleet init {app}` sets one up)"
        )
    with contextlib.suppress(AwsError):  # remembering saves walks: a plan never fails for it
        await remember_traffic_point(gw, app, point.listener_arn, point.rule_arn)
    return point


async def remember_traffic_point(gw: Gateway, app: str, listener_arn: str, rule_arn: str) -> None:
    """Store the app's listener (and rule) ARN on its launch template, for
    `find_traffic_point`. AwsError when the template is missing or may not be tagged."""
    got = await gw.call(
        "ec2", "describe_launch_templates", LaunchTemplateNames=[launch_template_name(app)]
    )
    template_id = got["LaunchTemplates"][0]["LaunchTemplateId"]
    # Both keys each time (the rule's empty for a listener): no stale rule survives a move.
    tags = [{"Key": TAG_LISTENER, "Value": listener_arn}, {"Key": TAG_RULE, "Value": rule_arn}]
    await gw.call("ec2", "create_tags", Resources=[template_id], Tags=tags)


async def _remembered(gw: Gateway, app: str) -> TrafficPoint | None:
    try:
        got = await gw.call(
            "ec2", "describe_launch_templates", LaunchTemplateNames=[launch_template_name(app)]
        )
    except AwsError as exc:
        if "NotFound" in exc.code or exc.code == "InvalidLaunchTemplateName.MalformedException":
            return None
        raise
    templates = got.get("LaunchTemplates") or [{}]
    tags = {t["Key"]: t.get("Value", "") for t in templates[0].get("Tags", [])}
    listener_arn, rule_arn = tags.get(TAG_LISTENER, ""), tags.get(TAG_RULE, "")
    if not listener_arn:
        return None
    try:
        if rule_arn:
            await gw.call("elbv2", "describe_rules", RuleArns=[rule_arn])
        got = await gw.call("elbv2", "describe_listeners", ListenerArns=[listener_arn])
        listener = got["Listeners"][0]
        got = await gw.call(
            "elbv2", "describe_load_balancers", LoadBalancerArns=[listener["LoadBalancerArn"]]
        )
    except AwsError as exc:
        if exc.code in _GONE:
            return None  # deleted since: walk again
        raise
    return _point(app, got["LoadBalancers"][0], listener, rule_arn)


def _point(
    app: str, lb: Mapping[str, Any], listener: Mapping[str, Any], rule_arn: str = ""
) -> TrafficPoint:
    scheme = "https" if listener.get("Protocol") in ("HTTPS", "TLS") else "http"
    return TrafficPoint(
        app=app,
        listener_arn=str(listener["ListenerArn"]),
        load_balancer_arn=str(lb["LoadBalancerArn"]),
        rule_arn=rule_arn,
        url=f"{scheme}://{lb.get('DNSName', '')}:{listener.get('Port', 80)}",
        vpc_id=str(lb.get("VpcId", "")),
        subnets=tuple(z["SubnetId"] for z in lb.get("AvailabilityZones", []) if z.get("SubnetId")),
    )


# -- weights -----------------------------------------------------------------------------


def forward_weights(actions: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Target group ARN -> its share in percent of the forward action among `actions`.

    ELB splits a forward's requests by each weight over their sum, so a plain forward
    (`TargetGroupArn`) or a single group of any weight is that group at 100.
    """
    forward = next((a for a in actions if a.get("Type") == "forward"), None)
    if forward is None:
        return {}
    groups = (forward.get("ForwardConfig") or {}).get("TargetGroups") or []
    raw = {str(g["TargetGroupArn"]): int(g.get("Weight", 1)) for g in groups}
    if not raw and forward.get("TargetGroupArn"):
        raw = {str(forward["TargetGroupArn"]): 1}
    total = sum(raw.values())
    return {arn: round(100 * w / total) if total else 0 for arn, w in raw.items()}


async def current_actions(
    gw: Gateway, points: Mapping[str, TrafficPoint]
) -> dict[str, list[dict[str, Any]]]:
    """Per app, its listener's default actions (or its rule's actions); two calls at most.

    Raises AwsError (`ListenerNotFound`/`RuleNotFound`) when a traffic point disappeared.
    """
    listener_arns = sorted({p.listener_arn for p in points.values() if not p.rule_arn})
    rule_arns = sorted({p.rule_arn for p in points.values() if p.rule_arn})
    actions: dict[str, list[dict[str, Any]]] = {}
    if listener_arns:
        for li in await gw.paginate(
            "elbv2", "describe_listeners", "Listeners", ListenerArns=listener_arns
        ):
            actions[li["ListenerArn"]] = list(li.get("DefaultActions", []))
    if rule_arns:
        for rule in await gw.paginate("elbv2", "describe_rules", "Rules", RuleArns=rule_arns):
            actions[rule["RuleArn"]] = list(rule.get("Actions", []))
    return {app: actions.get(p.rule_arn or p.listener_arn, []) for app, p in points.items()}


async def read_all_weights(
    gw: Gateway, points: Mapping[str, TrafficPoint]
) -> dict[str, dict[str, int]]:
    """Per app, target group ARN -> share in percent (`forward_weights`); two calls at most."""
    return {app: forward_weights(a) for app, a in (await current_actions(gw, points)).items()}


async def read_weights(gw: Gateway, point: TrafficPoint) -> dict[str, int]:
    """Target group ARN -> share in percent, as the listener (or rule) forwards now."""
    return (await read_all_weights(gw, {point.app: point}))[point.app]


def with_weights(actions: Iterable[Mapping[str, Any]], weights: Mapping[str, int]) -> list[Any]:
    """`actions` with only the forward's target groups changed to `weights`: every other
    action, the Orders and the forward's stickiness config stay. Without a forward (the
    503 that `init` leaves), the routing action is what becomes the forward."""
    groups = [{"TargetGroupArn": a, "Weight": int(w)} for a, w in weights.items()]
    out: list[Any] = []
    placed = False
    todo = [copy.deepcopy(dict(a)) for a in actions]
    has_forward = any(a.get("Type") == "forward" for a in todo)
    for action in todo:
        kind = action.get("Type")
        if kind == "authenticate-oidc":
            config = action.setdefault("AuthenticateOidcConfig", {})
            if not config.get("ClientSecret"):
                config["UseExistingClientSecret"] = True  # AWS never describes the secret
        if kind == "forward" or (not has_forward and kind in ROUTING_ACTIONS and not placed):
            forward: dict[str, Any] = {"Type": "forward"}
            if "Order" in action:
                forward["Order"] = action["Order"]
            config = dict(action.get("ForwardConfig") or {}) if kind == "forward" else {}
            config["TargetGroups"] = groups
            forward["ForwardConfig"] = config  # TargetGroupArn would allow only one group
            out.append(forward)
            placed = True
            continue
        out.append(action)
    if not placed:
        out.append({"Type": "forward", "ForwardConfig": {"TargetGroups": groups}})
    return out


async def set_weights(gw: Gateway, point: TrafficPoint, weights: Mapping[str, int]) -> None:
    """One listener (or rule) change: forward to these target groups with these weights,
    keeping every other action of the list as it is (`with_weights`)."""
    actions = (await current_actions(gw, {point.app: point}))[point.app]
    new = with_weights(actions, weights)
    if point.rule_arn:
        await gw.call("elbv2", "modify_rule", RuleArn=point.rule_arn, Actions=new)
    else:
        await gw.call(
            "elbv2", "modify_listener", ListenerArn=point.listener_arn, DefaultActions=new
        )
