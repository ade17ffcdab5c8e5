"""Does the rollout fit its load balancer's target quota? Checked at plan time.

A blue-green or canary rollout holds the old and the new group on one load balancer until
retire, and every target of every group the load balancer forwards to (other apps' on a
shared ALB too) counts against the account's `targets-per-application-load-balancer`
quota (1,000 by default, from DescribeAccountLimits). Over it, AWS refuses the new group's
registrations: the plan says so first, with the numbers, and whether rolling (which only
ever adds one batch beside the old group) fits (docs/ARCHITECTURE.md §4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rollout.aws.gateway import Gateway
from rollout.errors import RolloutInputError
from rollout.fleet.traffic import TrafficPoint, forward_weights
from rollout.ledger.vocabulary import Strategy

TARGETS_QUOTA = "targets-per-application-load-balancer"
AWS_DEFAULT_TARGETS = 1000


@dataclass(frozen=True, slots=True)
class TargetBudget:
    """The load balancer's targets now, and what a rollout adds at its peak."""

    quota: int
    mine: int  # the app's serving group's targets
    others: int  # every other target group's on the load balancer
    new: int  # what the new group adds at the rollout's peak
    rolling_new: int  # what rolling adds at its peak (one batch)

    @property
    def now(self) -> int:
        return self.mine + self.others

    def fits(self) -> bool:
        return self.now + self.new <= self.quota

    def rolling_fits(self) -> bool:
        return self.now + self.rolling_new <= self.quota


async def alb_quota(gw: Gateway) -> int:
    """The account's targets-per-ALB quota (AWS's default when the answer lacks it)."""
    got = await gw.paginate("elbv2", "describe_account_limits", "Limits")
    for limit in got:
        if limit.get("Name") == TARGETS_QUOTA:
            return int(limit.get("Max", AWS_DEFAULT_TARGETS))
    return AWS_DEFAULT_TARGETS


async def target_groups_on(gw: Gateway, load_balancer_arn: str) -> set[str]:
    """Every target group the load balancer's listeners and rules forward to."""
    groups: set[str] = set()
    listeners = await gw.paginate(
        "elbv2", "describe_listeners", "Listeners", LoadBalancerArn=load_balancer_arn
    )
    for listener in listeners:
        groups |= set(forward_weights(listener.get("DefaultActions", [])))
        for rule in await gw.paginate(
            "elbv2", "describe_rules", "Rules", ListenerArn=listener["ListenerArn"]
        ):
            if not rule.get("IsDefault"):
                groups |= set(forward_weights(rule.get("Actions", [])))
    return groups


async def target_budget(
    gw: Gateway,
    traffic: TrafficPoint,
    serving_target_group: str,
    new_capacity: int,
    rolling_batch_percent: int,
) -> TargetBudget:
    """The load balancer's target count by owner, its quota, and each strategy's peak."""
    counts: dict[str, int] = {}
    for arn in await target_groups_on(gw, traffic.load_balancer_arn):
        got = await gw.call("elbv2", "describe_target_health", TargetGroupArn=arn)
        counts[arn] = len(got.get("TargetHealthDescriptions", []))
    mine = counts.pop(serving_target_group, 0)
    batch = max(1, math.ceil(new_capacity * rolling_batch_percent / 100))
    return TargetBudget(
        quota=await alb_quota(gw),
        mine=mine,
        others=sum(counts.values()),
        new=new_capacity,
        rolling_new=min(batch, new_capacity),
    )


def check_target_budget(budget: TargetBudget, strategy: str, app: str, has_old: bool) -> None:
    """RolloutInputError when the strategy's peak is over the quota, with the numbers and
    whether rolling fits instead."""
    rolling = strategy == Strategy.ROLLING and has_old
    need = budget.now + (budget.rolling_new if rolling else budget.new)
    if need <= budget.quota:
        return
    counted = f"{budget.mine} of {app}'s serving group"
    if budget.others:
        counted += f", {budget.others} of other target groups on its load balancer"
    added = f"{budget.rolling_new} of one batch" if rolling else f"{budget.new} new"
    why = (
        f"{strategy} needs {need} targets on {app}'s load balancer ({counted}, {added}), "
        f"over its quota of {budget.quota} ({TARGETS_QUOTA})"
    )
    if not rolling and has_old and budget.rolling_fits():
        peak = budget.now + budget.rolling_new
        raise RolloutInputError(
            f"{why}: `--strategy rolling` fits ({peak} at its peak), or ask AWS to raise the quota"
        )
    raise RolloutInputError(f"{why}: ask AWS to raise the quota, or lower --capacity")
