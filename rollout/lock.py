"""The deploy lock: one rollout per app at a time, held by a lease that a heartbeat renews.

`DeployLock` acquires with a conditional put, renews every `lock_heartbeat_seconds` while
held, and releases only its own lock. `force=True` takes the lock over from another owner;
the takeover is recorded in the rollouts table as an audit item (ARCHITECTURE §3).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import socket
import time
from datetime import UTC, datetime, timedelta

from rollout.config import RolloutSettings
from rollout.gateway import AwsError, Gateway
from rollout.ledger.locks import delete_lock, put_lock, read_lock, renew_lock
from rollout.ledger.rollouts import RolloutLedger, utc_now
from rollout.model import LockInfo
from rollout.naming import new_rollout_id


class LockHeld(Exception):
    """Another owner holds the app's lock; `info` says who, since when and why."""

    def __init__(self, info: LockInfo) -> None:
        self.info = info
        since = _iso(info.acquired_at)
        why = f": {info.message}" if info.message else ""
        super().__init__(
            f"{info.app} is locked by {info.owner} since {since}{why} "
            f"(until {_iso(info.expires_at)})"
        )


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def lock_owner() -> str:
    """This process as a lock owner: `user@host:pid`."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}:{os.getpid()}"


async def caller_arn(gw: Gateway) -> str:
    """The caller's ARN for the lock item, or "" when STS cannot say."""
    try:
        ident = await gw.call("sts", "get_caller_identity")
    except AwsError:
        return ""
    return str(ident.get("Arn", ""))


class DeployLock:
    """An app's deploy lock; `async with` acquires it, heartbeats, and releases it."""

    def __init__(
        self,
        gw: Gateway,
        table: str,
        app: str,
        settings: RolloutSettings,
        *,
        message: str = "",
        owner: str | None = None,
        force: bool = False,
        audit_table: str = "",
    ) -> None:
        self.gw = gw
        self.table = table
        self.app = app
        self.settings = settings
        self.message = message
        self.owner = owner or lock_owner()
        self.force = force
        self.audit_table = audit_table
        self.info: LockInfo | None = None
        self.lost = asyncio.Event()  # set when a renewal finds the lock taken
        self.taken_from: LockInfo | None = None
        self._beat: asyncio.Task[None] | None = None

    async def acquire(self) -> LockInfo:
        """Take the lock, or raise LockHeld naming its holder (unless `force`)."""
        now = time.time()
        lease = timedelta(seconds=self.settings.lock_lease_seconds)
        start = datetime.fromtimestamp(int(now), UTC)
        info = LockInfo(
            app=self.app,
            owner=self.owner,
            acquired_at=start,
            expires_at=start + lease,
            message=self.message,
            caller_arn=await caller_arn(self.gw),
        )
        previous = await read_lock(self.gw, self.table, self.app) if self.force else None
        if not await put_lock(self.gw, self.table, info, now=now, force=self.force):
            held = await read_lock(self.gw, self.table, self.app)
            if held is None:  # released between the put and the read: try once more
                if await put_lock(self.gw, self.table, info, now=time.time()):
                    return self._held(info)
                held = await read_lock(self.gw, self.table, self.app)
            raise LockHeld(held or info)
        if previous and previous.owner != self.owner and previous.expires_at.timestamp() > now:
            self.taken_from = previous
            await record_takeover(self.gw, self.audit_table, previous, self.owner, "lock")
        return self._held(info)

    def _held(self, info: LockInfo) -> LockInfo:
        self.info = info
        self._beat = asyncio.create_task(self._heartbeat(), name=f"lock-heartbeat-{self.app}")
        return info

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lock_heartbeat_seconds)
            expires = time.time() + self.settings.lock_lease_seconds
            try:
                still = await renew_lock(self.gw, self.table, self.app, self.owner, expires)
            except AwsError:
                continue  # a blip: the lease outlives several heartbeats
            if not still:
                self.lost.set()
                return

    async def release(self) -> None:
        """Stop the heartbeat and delete the lock if it is still ours."""
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._beat
            self._beat = None
        if self.info is not None:
            self.info = None
            await delete_lock(self.gw, self.table, self.app, self.owner)

    async def __aenter__(self) -> DeployLock:
        await self.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Shielded: a cancelled deploy (Ctrl-C) must still free its app.
        await asyncio.shield(self.release())


async def force_unlock(
    gw: Gateway, table: str, app: str, *, by: str, audit_table: str
) -> LockInfo | None:
    """Delete the app's lock whoever holds it; the takeover is recorded. Returns what was held."""
    held = await read_lock(gw, table, app)
    await delete_lock(gw, table, app, owner=None)
    if held is not None and held.owner != by:
        await record_takeover(gw, audit_table, held, by, "unlock")
    return held


async def record_takeover(gw: Gateway, audit_table: str, held: LockInfo, by: str, how: str) -> None:
    """An audit item in the rollouts table: `kind=lock-takeover`, who took it from whom."""
    if not audit_table:
        return
    since = held.acquired_at.isoformat(timespec="seconds").replace("+00:00", "Z")
    now = utc_now()
    await RolloutLedger(gw, audit_table).put(
        {
            "app": held.app,
            "rollout_id": new_rollout_id(),
            "kind": "lock-takeover",
            "state": "succeeded",
            "owner": by,
            "started_at": now,
            "finished_at": now,
            "outcome": f"{how} --force: lock taken from {held.owner}",
            "reason": f"held since {since}" + (f": {held.message}" if held.message else ""),
            "steps": [],
        }
    )
