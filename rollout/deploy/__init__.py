"""Rollouts: plan, run, abort, resume and roll back a server group's way into traffic.

The faces do not assemble these themselves: they call `rollout.operations`, which takes the
lock, asks their questions and runs what follows, the same way for every face.

async with DeployLock(gw, config.tables.locks, app, config.rollout) as lock:
    plan = await make_plan(gw, config, DeployRequest(app, version))
    rollout = Rollout(gw, config, plan, lock)
    result = await rollout.run()      # meanwhile: async for ev in rollout.events()
"""

from rollout.deploy.control import (
    AbortRequest,
    find_unfinished,
    owner_alive,
    previous_release,
    request_abort,
    rollout_from_item,
)
from rollout.deploy.plan import STRATEGIES, DeployRequest, PlanChange, RolloutPlan, make_plan
from rollout.deploy.runner import Rollout
from rollout.deploy.ways_back import (
    DeployEta,
    Estimate,
    FlipBack,
    FreshDeploy,
    RollbackOptions,
    rollback_options,
)
from rollout.errors import RolloutInputError, RolloutStop
from rollout.model import Capacity

__all__ = [
    "STRATEGIES",
    "AbortRequest",
    "Capacity",
    "DeployEta",
    "DeployRequest",
    "Estimate",
    "FlipBack",
    "FreshDeploy",
    "PlanChange",
    "RollbackOptions",
    "Rollout",
    "RolloutInputError",
    "RolloutPlan",
    "RolloutStop",
    "find_unfinished",
    "make_plan",
    "owner_alive",
    "previous_release",
    "request_abort",
    "rollback_options",
    "rollout_from_item",
]
