"""Finding each app's traffic point: the listener (or listener rule) tagged with its name.

Discovery walks load balancers, listeners and rules and reads their tags: several calls,
so the observer runs it at start and when an app it cannot place shows up, not per tick.
Per tick it only re-reads the known listeners and rules for their forward weights.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rollout.gateway import Gateway
from rollout.model import TAG_APP

TAGS_PER_CALL = 20  # elbv2 DescribeTags takes at most 20 ARNs


@dataclass(frozen=True, slots=True)
class TrafficPoint:
    """Where an app's traffic enters: a listener, or a rule on a shared listener."""

    app: str
    listener_arn: str
    load_balancer_arn: str
    url: str  # http(s)://<DNSName>:<port>
    rule_arn: str = ""


async def elb_tags(gateway: Gateway, arns: Iterable[str]) -> dict[str, dict[str, str]]:
    """Tags of ELBv2 resources by ARN, 20 ARNs per call."""
    todo = list(arns)
    tags: dict[str, dict[str, str]] = {}
    for i in range(0, len(todo), TAGS_PER_CALL):
        out = await gateway.call("elbv2", "describe_tags", ResourceArns=todo[i : i + TAGS_PER_CALL])
        for desc in out.get("TagDescriptions", []):
            tags[desc["ResourceArn"]] = {t["Key"]: t.get("Value", "") for t in desc.get("Tags", [])}
    return tags


async def discover_traffic(gateway: Gateway) -> dict[str, TrafficPoint]:
    """Every app's traffic point, by app name, from the `freshfleet:app` tags."""
    lbs = await gateway.paginate("elbv2", "describe_load_balancers", "LoadBalancers")
    lb_tags = await elb_tags(gateway, [lb["LoadBalancerArn"] for lb in lbs])
    found: dict[str, TrafficPoint] = {}
    for lb in lbs:
        arn = lb["LoadBalancerArn"]
        if TAG_APP not in lb_tags.get(arn, {}):
            continue
        listeners = await gateway.paginate(
            "elbv2", "describe_listeners", "Listeners", LoadBalancerArn=arn
        )
        listener_tags = await elb_tags(gateway, [li["ListenerArn"] for li in listeners])
        for li in listeners:
            url = _url(lb, li)
            app = listener_tags.get(li["ListenerArn"], {}).get(TAG_APP)
            if app:
                found.setdefault(app, TrafficPoint(app, li["ListenerArn"], arn, url))
            # Rules too: a shared listener may route other apps by host or path.
            rules = await gateway.paginate(
                "elbv2", "describe_rules", "Rules", ListenerArn=li["ListenerArn"]
            )
            rules = [r for r in rules if not r.get("IsDefault")]
            rule_tags = await elb_tags(gateway, [r["RuleArn"] for r in rules])
            for rule in rules:
                app = rule_tags.get(rule["RuleArn"], {}).get(TAG_APP)
                if app:
                    found.setdefault(
                        app, TrafficPoint(app, li["ListenerArn"], arn, url, rule["RuleArn"])
                    )
    return found


async def read_weights(
    gateway: Gateway, points: Mapping[str, TrafficPoint]
) -> dict[str, dict[str, int]]:
    """Per app, the forward weight of each target group (ARN -> weight); two calls at most.

    A plain forward to one target group counts as weight 100. Raises AwsError (code
    `ListenerNotFound`/`RuleNotFound`) when a traffic point disappeared: rediscover then.
    """
    listener_arns = sorted({p.listener_arn for p in points.values() if not p.rule_arn})
    rule_arns = sorted({p.rule_arn for p in points.values() if p.rule_arn})
    actions: dict[str, list[dict[str, Any]]] = {}
    if listener_arns:
        for li in await gateway.paginate(
            "elbv2", "describe_listeners", "Listeners", ListenerArns=listener_arns
        ):
            actions[li["ListenerArn"]] = li.get("DefaultActions", [])
    if rule_arns:
        for rule in await gateway.paginate("elbv2", "describe_rules", "Rules", RuleArns=rule_arns):
            actions[rule["RuleArn"]] = rule.get("Actions", [])
    return {
        app: forward_weights(actions.get(p.rule_arn or p.listener_arn, []))
        for app, p in points.items()
    }


def forward_weights(actions: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Target group ARN -> weight of the forward action among `actions`."""
    weights: dict[str, int] = {}
    for action in actions:
        if action.get("Type") != "forward":
            continue
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if groups:
            for g in groups:
                weights[g["TargetGroupArn"]] = int(g.get("Weight", 1))
        elif action.get("TargetGroupArn"):
            weights[action["TargetGroupArn"]] = 100
    return weights


def _url(lb: Mapping[str, Any], listener: Mapping[str, Any]) -> str:
    scheme = "https" if listener.get("Protocol") in ("HTTPS", "TLS") else "http"
    return f"{scheme}://{lb.get('DNSName', '')}:{listener.get('Port', 80)}"
