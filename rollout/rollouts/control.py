"""Acting on a rollout from any process: abort it, resume it, roll it back (ARCHITECTURE §4)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from rollout.config import Config
from rollout.gateway import Gateway
from rollout.ledger import rollouts as states
from rollout.ledger.locks import read_lock
from rollout.ledger.releases import get_release
from rollout.ledger.rollouts import RolloutLedger
from rollout.lock import DeployLock
from rollout.model import Release, ServerGroup
from rollout.rollouts.errors import RolloutInputError
from rollout.rollouts.plan import Capacity, RolloutPlan
from rollout.rollouts.runner import Rollout
from rollout.rollouts.traffic import TrafficPoint, read_weights


@dataclass(frozen=True, slots=True)
class AbortRequest:
    """The abort written on a running rollout, and how that rollout ended (if it did)."""

    app: str
    rollout_id: str
    state: str  # the rollout's state when we stopped waiting
    outcome: str = ""
    reason: str = ""


async def find_unfinished(gw: Gateway, config: Config, app: str) -> dict[str, Any] | None:
    return await RolloutLedger(gw, config.tables.rollouts).unfinished(app)


async def request_abort(
    gw: Gateway,
    config: Config,
    app: str,
    *,
    by: str,
    action: str = "abort",
    wait_seconds: float = 0.0,
) -> AbortRequest:
    """Ask the app's running rollout to stop (abort) or flip back (rollback); wait up to
    `wait_seconds` for it to end. RolloutInputError when no rollout of the app is running."""
    ledger = RolloutLedger(gw, config.tables.rollouts)
    item = await ledger.unfinished(app)
    if item is None:
        raise RolloutInputError(f"no rollout of {app} is running")
    if item.get("state") != states.RUNNING:
        raise RolloutInputError(
            f"{app}'s rollout {item['rollout_id']} is detached: nothing runs it to abort; "
            f"`freshfleet rollback {app}` undoes it, `freshfleet resume {app}` finishes it"
        )
    rid = str(item["rollout_id"])
    await ledger.request_abort(app, rid, by, action)
    deadline = time.monotonic() + wait_seconds
    while True:
        now = await ledger.get(app, rid) or item
        if now.get("state") != states.RUNNING or time.monotonic() >= deadline:
            return AbortRequest(
                app,
                rid,
                str(now.get("state")),
                str(now.get("outcome", "")),
                str(now.get("reason", "")),
            )
        await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))


async def owner_alive(gw: Gateway, config: Config, item: dict[str, Any]) -> bool:
    """True when the rollout's owner still holds an unexpired lease on the app's lock."""
    lock = await read_lock(gw, config.tables.locks, str(item["app"]))
    return bool(
        lock and lock.owner == item.get("owner") and lock.expires_at.timestamp() > time.time()
    )


async def rollout_from_item(
    gw: Gateway, config: Config, item: dict[str, Any], lock: DeployLock
) -> Rollout:
    """Rebuild a rollout from its ledger item, to be continued or unwound by this process.

    The item is claimed for `lock`'s lease first (owner, generation), then read again: the
    process that held it before can write nothing after that read (its writes are fenced,
    `Rollout._write`), so what is rebuilt is the item's last word.
    """
    app = str(item["app"])
    ledger = RolloutLedger(gw, config.tables.rollouts)
    rid = str(item["rollout_id"])
    await ledger.update(
        app, rid, owner=lock.owner, lock_generation=lock.generation, state=states.RUNNING
    )
    item = await ledger.get(app, rid) or item
    version = str(item.get("to_release", ""))
    release = await get_release(gw, config.tables, app, version) or Release(
        app=app, version=version, url="", sha256=""
    )
    cap = item.get("capacity") or {}
    old = ServerGroup.from_item(item["old_group"]) if item.get("old_group") else None
    plan = RolloutPlan(
        app=app,
        rollout_id=str(item["rollout_id"]),
        release=release,
        strategy=str(item.get("strategy", "blue-green")),
        traffic=TrafficPoint(
            app=app,
            listener_arn=str(item.get("listener_arn", "")),
            load_balancer_arn=str(item.get("load_balancer_arn", "")),
            vpc_id="",
            subnets=(),
            rule_arn=str(item.get("rule_arn", "")),
        ),
        old_group=old,
        new_group=str(item.get("new_group", "")),
        launch_template=str(item.get("launch_template", "")),
        launch_template_version=str(item.get("launch_template_version", "")),
        user_data="",
        user_data_sha256=str(item.get("user_data_sha256", "")),
        capacity=Capacity(
            int(cap.get("min_size", 0)), int(cap.get("max_size", 0)), int(cap.get("desired", 0))
        ),
        bake_seconds=float(item.get("bake_seconds", config.rollout.bake_seconds)),
        grace_period=int(item.get("grace_period", 0)),
        scale_in_held=tuple(str(n) for n in item.get("scale_in_held") or ()),
        schedules_held=bool(item.get("schedules_held", False)),
    )
    r = Rollout(gw, config, plan, lock, owner=lock.owner)
    r.resumed = True
    r.steps = list(item.get("steps", []))
    r.created = {k: str(v) for k, v in (item.get("created") or {}).items()}
    r.new = ServerGroup.from_item(item["new_group_ref"]) if item.get("new_group_ref") else None
    r.old_shrunk = bool(item.get("old_shrunk", False))
    r.weights_history = [dict(h.get("weights", {})) for h in item.get("weights_history", [])]
    # The listener is the truth about traffic: trust it over the ledger's last write.
    live = await read_weights(gw, plan.traffic) if plan.traffic.listener_arn else {}
    new_arn = r.new.target_group_arn if r.new else r.created.get("target_group_arn", "")
    r.shifted = bool(item.get("shifted")) or live.get(new_arn, 0) > 0
    if r.new and new_arn in live:
        names = {new_arn: r.new.name} | ({old.target_group_arn: old.name} if old else {})
        r.weights_history.append({names[a]: w for a, w in live.items() if a in names})
    return r


async def previous_release(gw: Gateway, config: Config, app: str) -> str:
    """The release that served before the current one: the `from_release` of the newest
    succeeded rollout. RolloutInputError when the ledger knows none."""
    for item in await RolloutLedger(gw, config.tables.rollouts).recent(app):
        if item.get("state") == states.SUCCEEDED and item.get("from_release"):
            return str(item["from_release"])
    raise RolloutInputError(
        f"the ledger holds no earlier successful release of {app}: pass --to VERSION"
    )
