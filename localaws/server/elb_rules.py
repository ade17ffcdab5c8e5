"""What ELB checks about listener and rule actions, and its quotas, as AWS documents them.

Stock moto 5.2.5 keeps an action list whole and replaces it whole (as AWS does), but
accepts a list with two routing actions, any number of target groups in one forward, any
number of targets and target groups on one load balancer, and answers DescribeAccountLimits
with numbers of its own. localaws's patches (localaws/server/patches.py) call these checks first.

- Action basics: "Each rule must include exactly one of the following routing actions:
  forward, redirect, or fixed-response, and it must be the last action to be performed"
  (Elastic Load Balancing, "Action types for listener rules"); `Order` is required when a
  list has several actions (API reference, `Action`).
- Quotas ("Quotas for your Application Load Balancers"): target groups per action per ALB
  5 (not adjustable), target groups per ALB 100 (not adjustable), targets per ALB 1,000
  (adjustable: `localaws.targets_per_alb` plays an adjusted account).
- OIDC client secrets: DescribeListeners/DescribeRules never return `ClientSecret`; a
  modify keeps the stored one with `UseExistingClientSecret` (API reference,
  `AuthenticateOidcActionConfig`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from moto.elbv2.exceptions import ELBClientError

ROUTING_ACTIONS = ("forward", "redirect", "fixed-response")
TARGET_GROUPS_PER_ACTION = 5
TARGET_GROUPS_PER_ALB = 100
TARGETS_PER_ALB = 1000
SECRET_ATTR = "localaws_client_secret"  # where a stored OIDC secret lives, out of Describe*

# DescribeAccountLimits for an account with AWS's default quotas (the `Limit` names of the
# API reference; values from the quota pages of ALBs, NLBs and GWLBs).
ACCOUNT_LIMITS: dict[str, int] = {
    "application-load-balancers": 50,
    "condition-values-per-alb-rule": 5,
    "condition-wildcards-per-alb-rule": 5,
    "gateway-load-balancers": 100,
    "gateway-load-balancers-per-vpc": 100,
    "geneve-target-groups": 100,
    "listeners-per-application-load-balancer": 50,
    "listeners-per-network-load-balancer": 50,
    "network-load-balancers": 50,
    "rules-per-application-load-balancer": 100,
    "target-groups": 3000,
    "target-groups-per-action-on-application-load-balancer": TARGET_GROUPS_PER_ACTION,
    "target-groups-per-action-on-network-load-balancer": 1,
    "target-groups-per-application-load-balancer": TARGET_GROUPS_PER_ALB,
    "targets-per-application-load-balancer": TARGETS_PER_ALB,
    "targets-per-availability-zone-per-gateway-load-balancer": 300,
    "targets-per-availability-zone-per-network-load-balancer": 500,
    "targets-per-network-load-balancer": 3000,
}


def account_limits(targets_per_alb: int = TARGETS_PER_ALB) -> list[dict[str, str]]:
    """DescribeAccountLimits' `Limits`, with the targets-per-ALB quota this account has."""
    limits = {**ACCOUNT_LIMITS, "targets-per-application-load-balancer": targets_per_alb}
    return [{"Name": name, "Max": str(value)} for name, value in limits.items()]


def _error(code: str, message: str) -> ELBClientError:
    return ELBClientError(code, message)


def forwarded_groups(action: Mapping[str, Any]) -> list[str]:
    """The target group ARNs a forward action names (plain or weighted)."""
    if action.get("Type") != "forward":
        return []
    config = action.get("ForwardConfig") or {}
    arns = [str(g["TargetGroupArn"]) for g in config.get("TargetGroups") or []]
    if action.get("TargetGroupArn") and str(action["TargetGroupArn"]) not in arns:
        arns.append(str(action["TargetGroupArn"]))
    return arns


def check_action_list(actions: list[Mapping[str, Any]]) -> None:
    """InvalidLoadBalancerAction unless the list ends in exactly one routing action (by
    Order); TooManyTargetGroups when a forward names more than 5 target groups."""
    if not actions:
        return
    if len(actions) > 1 and any("Order" not in a for a in actions):
        raise _error("InvalidLoadBalancerAction", "Order is required for every action of a list")
    ordered = sorted(actions, key=lambda a: int(a.get("Order", 0)))
    routing = [a for a in ordered if a.get("Type") in ROUTING_ACTIONS]
    if len(routing) != 1 or ordered[-1] is not routing[0]:
        raise _error(
            "InvalidLoadBalancerAction",
            "Exactly one of forward, redirect or fixed-response is required, as the last action",
        )
    for action in actions:
        if len(set(forwarded_groups(action))) > TARGET_GROUPS_PER_ACTION:
            raise _error(
                "TooManyTargetGroups",
                f"A forward action can name at most {TARGET_GROUPS_PER_ACTION} target groups",
            )


def _lists_of(balancer: Any) -> Iterable[tuple[str, list[Any]]]:
    """(key, actions) of every action list on the load balancer: each listener's default
    actions (key: the listener ARN) and each rule's (key: the rule ARN)."""
    for listener in balancer.listeners.values():
        yield listener.arn, list(listener.default_actions)
        for arn, rule in getattr(listener, "_non_default_rules", {}).items():
            yield arn, list(rule.actions)


def _data(action: Any) -> Mapping[str, Any]:
    return action if isinstance(action, Mapping) else getattr(action, "data", {})


def groups_on(balancer: Any, replacing: str = "", actions: list[Any] | None = None) -> set[str]:
    """The target groups the load balancer forwards to, with the list `replacing` (a
    listener or rule ARN) taken as `actions`."""
    groups: set[str] = set()
    seen = False
    for key, current in _lists_of(balancer):
        if key == replacing and actions is not None:
            current, seen = actions, True
        for action in current:
            groups.update(forwarded_groups(_data(action)))
    if replacing and actions is not None and not seen:  # a list being created
        for action in actions:
            groups.update(forwarded_groups(_data(action)))
    return groups


def check_balancer(
    backend: Any, balancer: Any, groups: set[str], targets_per_alb: int, extra: int = 0
) -> None:
    """TooManyUniqueTargetGroupsPerLoadBalancer / TooManyTargets when the load balancer,
    forwarding to `groups` (with `extra` targets more), would be over AWS's quotas."""
    if len(groups) > TARGET_GROUPS_PER_ALB:
        raise _error(
            "TooManyUniqueTargetGroupsPerLoadBalancer",
            f"A load balancer can forward to at most {TARGET_GROUPS_PER_ALB} target groups "
            f"({len(groups)} asked)",
        )
    targets = extra + sum(
        len(backend.target_groups[g].targets) for g in groups if g in backend.target_groups
    )
    if targets > targets_per_alb:
        raise _error(
            "TooManyTargets",
            f"{balancer.name} would have {targets} targets; its quota is {targets_per_alb}",
        )


def check_new_list(
    backend: Any, lb_arn: str, key: str, actions: list[Mapping[str, Any]], targets_per_alb: int
) -> None:
    """Every check for the action list `key` (listener or rule ARN; any new key for a
    list being created) of load balancer `lb_arn` becoming `actions`."""
    check_action_list(actions)
    balancer = backend.load_balancers.get(lb_arn)
    if balancer is not None and actions:
        check_balancer(backend, balancer, groups_on(balancer, key, actions), targets_per_alb)


def check_registration(
    backend: Any, target_group_arn: str, targets: list[Mapping[str, Any]], targets_per_alb: int
) -> None:
    """TooManyTargets when registering `targets` would take a load balancer that forwards
    to the group over its quota."""
    group = backend.target_groups.get(target_group_arn)
    if group is None:
        return
    new = len({str(t["Id"]) for t in targets} - set(group.targets))
    if not new:
        return
    for balancer in backend.load_balancers.values():
        groups = groups_on(balancer)
        if target_group_arn in groups:
            check_balancer(backend, balancer, groups, targets_per_alb, extra=new)


def hide_client_secrets(actions: Iterable[Any], previous: Iterable[Any] = ()) -> None:
    """Move each stored OIDC action's ClientSecret out of what Describe* returns; an action
    with UseExistingClientSecret takes the secret of the list it replaces."""
    kept = next((getattr(a, SECRET_ATTR, "") for a in previous if getattr(a, SECRET_ATTR, "")), "")
    for action in actions:
        config = getattr(action, "data", {}).get("AuthenticateOidcConfig")
        if not isinstance(config, dict):
            continue
        use_existing = str(config.pop("UseExistingClientSecret", "")).lower() == "true"
        secret = config.pop("ClientSecret", "") or (kept if use_existing else "")
        setattr(action, SECRET_ATTR, secret)
        if hasattr(action, "AuthenticateOidcConfig"):
            action.AuthenticateOidcConfig = config


def check_client_secrets(actions: list[Mapping[str, Any]], previous: Iterable[Any]) -> None:
    """InvalidLoadBalancerAction for an OIDC action with neither a ClientSecret nor, on a
    list that had one, UseExistingClientSecret."""
    had = any(getattr(a, SECRET_ATTR, "") for a in previous)
    for action in actions:
        if action.get("Type") != "authenticate-oidc":
            continue
        config = action.get("AuthenticateOidcConfig") or {}
        use_existing = str(config.get("UseExistingClientSecret", "")).lower() == "true"
        if not config.get("ClientSecret") and not (use_existing and had):
            raise _error(
                "InvalidLoadBalancerAction",
                "AuthenticateOidcConfig needs a ClientSecret"
                + (", or UseExistingClientSecret" if had else ""),
            )
