"""An app's traffic point: its listener (or listener rule) and that listener's weights.

Found by the tag `freshfleet:app=<app>` (DESIGN §3). Every change of weights is ONE
`modify_listener` (or `modify_rule`) call with a weighted ForwardConfig.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rollout.gateway import Gateway
from rollout.model import TAG_APP
from rollout.rollouts.errors import RolloutInputError


@dataclass(frozen=True, slots=True)
class TrafficPoint:
    """Where an app's traffic is split: a listener's default action, or one rule's action."""

    app: str
    listener_arn: str
    load_balancer_arn: str
    vpc_id: str
    subnets: tuple[str, ...]
    rule_arn: str = ""


async def _tagged(gw: Gateway, arns: list[str], app: str) -> list[str]:
    hits: list[str] = []
    for i in range(0, len(arns), 20):
        got = await gw.call("elbv2", "describe_tags", ResourceArns=arns[i : i + 20])
        for desc in got.get("TagDescriptions", []):
            tags = {t["Key"]: t["Value"] for t in desc.get("Tags", [])}
            if tags.get(TAG_APP) == app:
                hits.append(desc["ResourceArn"])
    return hits


async def find_traffic_point(gw: Gateway, app: str) -> TrafficPoint:
    """The app's listener (or rule on a shared ALB); RolloutInputError when it has none."""
    lbs = await gw.paginate("elbv2", "describe_load_balancers", "LoadBalancers")
    listeners: dict[str, dict[str, Any]] = {}
    lb_of: dict[str, dict[str, Any]] = {}
    for lb in lbs:
        for listener in await gw.paginate(
            "elbv2", "describe_listeners", "Listeners", LoadBalancerArn=lb["LoadBalancerArn"]
        ):
            listeners[listener["ListenerArn"]] = listener
            lb_of[listener["ListenerArn"]] = lb
    rule_arn = ""
    hits = await _tagged(gw, list(listeners), app)
    if not hits:
        for arn in listeners:
            rules = await gw.paginate("elbv2", "describe_rules", "Rules", ListenerArn=arn)
            tagged = await _tagged(gw, [r["RuleArn"] for r in rules if not r.get("IsDefault")], app)
            if tagged:
                hits, rule_arn = [arn], tagged[0]
                break
    if not hits:
        raise RolloutInputError(
            f"app {app!r} has no listener or listener rule tagged {TAG_APP}={app} "
            f"(is the app name right? `freshfleet init {app}` sets one up)"
        )
    lb = lb_of[hits[0]]
    return TrafficPoint(
        app=app,
        listener_arn=hits[0],
        load_balancer_arn=lb["LoadBalancerArn"],
        vpc_id=lb.get("VpcId", ""),
        subnets=tuple(z["SubnetId"] for z in lb.get("AvailabilityZones", []) if z.get("SubnetId")),
        rule_arn=rule_arn,
    )


def _weights_of(actions: list[dict[str, Any]]) -> dict[str, int]:
    for action in actions:
        if action.get("Type") != "forward":
            continue
        groups = action.get("ForwardConfig", {}).get("TargetGroups")
        if groups:
            return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}
        if action.get("TargetGroupArn"):
            return {action["TargetGroupArn"]: 1}
    return {}


async def read_weights(gw: Gateway, point: TrafficPoint) -> dict[str, int]:
    """Target group ARN -> weight, as the listener (or rule) forwards now."""
    if point.rule_arn:
        got = await gw.call("elbv2", "describe_rules", RuleArns=[point.rule_arn])
        return _weights_of(got["Rules"][0].get("Actions", []))
    got = await gw.call("elbv2", "describe_listeners", ListenerArns=[point.listener_arn])
    return _weights_of(got["Listeners"][0].get("DefaultActions", []))


async def set_weights(gw: Gateway, point: TrafficPoint, weights: Mapping[str, int]) -> None:
    """One listener (or rule) change: forward to these target groups with these weights."""
    action = {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": a, "Weight": int(w)} for a, w in weights.items()]
        },
    }
    if point.rule_arn:
        await gw.call("elbv2", "modify_rule", RuleArn=point.rule_arn, Actions=[action])
    else:
        await gw.call(
            "elbv2", "modify_listener", ListenerArn=point.listener_arn, DefaultActions=[action]
        )
