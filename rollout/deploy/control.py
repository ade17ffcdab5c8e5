"""Acting on a rollout from any process: abort it, resume it, roll it back (ARCHITECTURE §4)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from rollout.aws.gateway import Gateway
from rollout.config import Config
from rollout.deploy.plan import RolloutPlan
from rollout.deploy.runner import Rollout
from rollout.errors import RolloutInputError
from rollout.fleet.traffic import read_weights
from rollout.ledger.lease import DeployLock
from rollout.ledger.locks import read_lock
from rollout.ledger.releases import get_release
from rollout.ledger.rollout_item import RolloutItem
from rollout.ledger.rollouts import RolloutLedger
from rollout.ledger.vocabulary import RolloutState
from rollout.model import Release


@dataclass(frozen=True, slots=True)
class AbortRequest:
    """The abort written on a running rollout, and how that rollout ended (if it did)."""

    app: str
    rollout_id: str
    state: str  # the rollout's state when we stopped waiting
    outcome: str = ""
    reason: str = ""


async def find_unfinished(gw: Gateway, config: Config, app: str) -> RolloutItem | None:
    """The app's newest unfinished rollout (`running` or `detached`); None when none is."""
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
    rid = item.rollout_id
    if item.state != RolloutState.RUNNING:
        raise RolloutInputError(
            f"{app}'s rollout {rid} is detached: nothing runs it to abort; "
            f"`freshfleet rollback {app}` undoes it, `freshfleet resume {app}` finishes it"
        )
    await ledger.request_abort(app, rid, by, action)
    deadline = time.monotonic() + wait_seconds
    while True:
        now = await ledger.get(app, rid) or item
        if now.state != RolloutState.RUNNING or time.monotonic() >= deadline:
            return AbortRequest(app, rid, now.state, now.outcome, now.reason)
        await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))


async def owner_alive(gw: Gateway, config: Config, rollout: RolloutItem) -> bool:
    """True when the rollout's owner still holds an unexpired lease on the app's lock."""
    lock = await read_lock(gw, config.tables.locks, rollout.app)
    return bool(
        lock
        and rollout.owner
        and lock.owner == rollout.owner
        and lock.expires_at.timestamp() > time.time()
    )


async def rollout_from_item(
    gw: Gateway, config: Config, item: RolloutItem, lock: DeployLock
) -> Rollout:
    """Rebuild a rollout from its ledger item, to be continued or unwound by this process.

    The item is claimed for `lock`'s lease first (owner, generation), then read again: the
    process that held it before can write nothing after that read (its writes are fenced,
    `Rollout._write`), so what is rebuilt is the item's last word.
    """
    app, rid = item.app, item.rollout_id
    ledger = RolloutLedger(gw, config.tables.rollouts)
    await ledger.update(
        app, rid, owner=lock.owner, lock_generation=lock.generation, state=RolloutState.RUNNING
    )
    stored = await ledger.get(app, rid) or item
    version = stored.to_release
    release = await get_release(gw, config.tables, app, version) or Release(
        app=app, version=version, url="", sha256=""
    )
    old = stored.old_group
    plan = RolloutPlan.from_item(stored, release, bake_seconds=config.rollout.bake_seconds)
    r = Rollout(gw, config, plan, lock, owner=lock.owner)
    r.resumed = True
    r.steps = list(stored.steps)
    r.created = dict(stored.created)
    r.new = stored.new_group_ref
    r.old_shrunk = stored.old_shrunk
    r.weights_history = stored.weights_by_group
    # The listener is the truth about traffic: trust it over the ledger's last write.
    live = await read_weights(gw, plan.traffic) if plan.traffic.listener_arn else {}
    new_arn = r.new.target_group_arn if r.new else r.created.get("target_group_arn", "")
    r.shifted = stored.shifted or live.get(new_arn, 0) > 0
    if r.new and new_arn in live:
        names = {new_arn: r.new.name} | ({old.target_group_arn: old.name} if old else {})
        r.weights_history.append({names[a]: w for a, w in live.items() if a in names})
    return r


async def previous_release(gw: Gateway, config: Config, app: str) -> str:
    """The release that served before the current one: the `from_release` of the newest
    succeeded rollout. RolloutInputError when the ledger knows none."""
    for done in await RolloutLedger(gw, config.tables.rollouts).recent(app):
        if done.state == RolloutState.SUCCEEDED and done.from_release:
            return done.from_release
    raise RolloutInputError(
        f"the ledger holds no earlier successful release of {app}: pass --to VERSION"
    )
