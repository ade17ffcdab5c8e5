"""The deploy lock: one rollout per app at a time, held by a lease that a heartbeat renews.

The owner is named by who AWS says the caller is (STS GetCallerIdentity), the host and the
pid — never by `$USER`. `DeployLock` takes a free app with a conditional put and renews its
lease every `lock_heartbeat_seconds`, bumping the item's `beat` count.

No wall clock is trusted to judge a lease (ARCHITECTURE §3): a contender takes a deploy
lease only once it has seen the item unchanged — same owner, generation and beat — for a
whole lease measured on its own monotonic clock, so a heartbeating holder's lease is never
taken, whatever either clock says. (A hand lock from `freshfleet lock` has no heartbeat: it
ends at its `expires_at`.) `force=True` takes a live lease over. Every takeover is written
on the condition that the item is still what was judged, raises the generation, and is
recorded in the rollouts table (who took it from whom). The holder learns of a takeover at
its next renewal or `verify()`, and its rollout stops before the next step (`lost`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import socket
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime

from rollout.aws.gateway import AwsError, Gateway
from rollout.config import RolloutSettings
from rollout.ledger.locks import create_lock, holds, read_lock, renew_lock, replace_lock
from rollout.ledger.locks import delete_lock as _delete_lock
from rollout.ledger.rollouts import RolloutLedger, utc_now
from rollout.ledger.vocabulary import RolloutState
from rollout.model import LockInfo
from rollout.naming import new_rollout_id

DEPLOY = "deploy"  # a process's heartbeated lease
MANUAL = "manual"  # `freshfleet lock`: a person's hold until a time


class LockHeld(Exception):
    """Another owner holds the app's lock; `info` says who, since when and why."""

    def __init__(self, info: LockInfo, why: str = "") -> None:
        self.info = info
        since = _iso(info.acquired_at)
        note = f": {info.message}" if info.message else ""
        super().__init__(
            f"{info.app} is locked by {info.owner} since {since}{note} "
            f"(until {_iso(info.expires_at)}){why}"
        )


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def _login() -> str:
    """The account this process runs as, from the system's user database (not `$USER`)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except (KeyError, OSError):
        return str(os.getuid())


def lock_owner(arn: str = "") -> str:
    """This process as a lock owner: `<caller ARN>@host:pid` (the login account's name in
    the ARN's place when STS cannot say who the caller is)."""
    return f"{arn or _login()}@{socket.gethostname()}:{os.getpid()}"


def same_principal(owner: str, me: str) -> bool:
    """True when two owners are the same caller on the same host (any pid)."""
    return owner.rpartition(":")[0] == me.rpartition(":")[0]


async def caller_arn(gw: Gateway) -> str:
    """The caller's ARN for the lock item, or "" when STS cannot say."""
    try:
        ident = await gw.call("sts", "get_caller_identity")
    except AwsError:
        return ""
    return str(ident.get("Arn", ""))


async def whoami(gw: Gateway) -> str:
    """This process as a lock owner, named by the caller's ARN (`lock_owner`)."""
    return lock_owner(await caller_arn(gw))


class StaleWatch:
    """What a contender has seen of a lock item, on its own monotonic clock."""

    def __init__(self) -> None:
        self._key: tuple[str, int, int] | None = None
        self._since = 0.0

    def see(self, held: LockInfo) -> float:
        """Note the item; return for how long (monotonic seconds) it has been unchanged."""
        key = (held.owner, held.generation, held.beat)
        if key != self._key:
            self._key, self._since = key, time.monotonic()
        return time.monotonic() - self._since


async def judge_stale(
    gw: Gateway,
    table: str,
    held: LockInfo,
    lease_seconds: float,
    *,
    clock: Callable[[], float] = time.time,
    watch: StaleWatch | None = None,
) -> LockInfo | None:
    """The lock item if nobody keeps it any more, else None (it is live).

    A hand lock is over at its `expires_at`. A deploy lease is over once it has been seen
    unchanged (owner, generation, beat) for its whole lease on this process's monotonic
    clock: one that looks expired on `clock` is watched that long; one that does not, or
    that changes while watched (its holder renewed it), is live. The writer's and this
    host's wall clocks are never compared. `watch` carries what was seen across calls.
    """
    watch = watch or StaleWatch()
    lease = held.lease_seconds or lease_seconds
    first = (held.owner, held.generation, held.beat)
    while True:
        if held.kind == MANUAL:
            return held if held.expires_at.timestamp() <= clock() else None
        if watch.see(held) >= lease:
            return held
        if held.expires_at.timestamp() > clock():
            return None
        await asyncio.sleep(min(1.0, lease / 10))
        now = await read_lock(gw, table, held.app)
        if now is None or (now.owner, now.generation, now.beat) != first:
            return None
        held = now


@dataclass(eq=False)
class DeployLock:
    """An app's deploy lock; `async with` acquires it, heartbeats, and releases it.

    `owner` names the holder; left empty, it is named at `acquire` by who AWS says the
    caller is (until then, this host and pid). `clock` gives the wall-clock times written
    into the item (shown to people; never used to judge a lease, only a hand lock's end).
    `hold_seconds` makes it a hand lock (`freshfleet lock`): no heartbeat, held that long or
    until `unlock`. `force` takes a live lease over; a takeover is recorded in
    `audit_table` when one is named.
    """

    gw: Gateway
    table: str
    app: str
    settings: RolloutSettings
    _: KW_ONLY
    message: str = ""
    owner: str = ""
    force: bool = False
    audit_table: str = ""
    clock: Callable[[], float] = time.time
    hold_seconds: float = 0.0
    # What holding it learns:
    info: LockInfo | None = field(default=None, init=False)
    generation: int = field(default=0, init=False)
    lost: asyncio.Event = field(  # set when the lease is found taken or unrenewable
        default_factory=asyncio.Event, init=False
    )
    lost_reason: str = field(default="", init=False)
    taken_from: LockInfo | None = field(default=None, init=False)
    _named: bool = field(default=False, init=False, repr=False)
    _watch: StaleWatch = field(default_factory=StaleWatch, init=False, repr=False)
    _beat: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._named = bool(self.owner)
        self.owner = self.owner or lock_owner()

    @property
    def kind(self) -> str:
        """`manual` for a hand lock (`hold_seconds`), else `deploy`."""
        return MANUAL if self.hold_seconds else DEPLOY

    @property
    def lease_seconds(self) -> float:
        """How long one hold lasts: the hand lock's `hold_seconds`, else the settings' lease."""
        return self.hold_seconds or self.settings.lock_lease_seconds

    def _fresh(self, arn: str, generation: int) -> LockInfo:
        now = self.clock()
        start = datetime.fromtimestamp(int(now), UTC)
        return LockInfo(
            app=self.app,
            owner=self.owner,
            acquired_at=start,
            expires_at=datetime.fromtimestamp(int(now + self.lease_seconds), UTC),
            message=self.message,
            caller_arn=arn,
            generation=generation,
            lease_seconds=self.lease_seconds,
            kind=self.kind,
        )

    async def acquire(self) -> LockInfo:
        """Take the lock, or raise LockHeld naming its holder (unless `force`).

        A free app is taken at once; a lock item already there only when `judge_stale`
        finds nobody keeps it (a deploy lease that looks expired here is watched for up to
        one lease first), or with `force`. The takeover is written on the condition that
        the item is still what was judged, raises the generation, and is recorded.
        """
        arn = await caller_arn(self.gw)
        if not self._named:
            self.owner = lock_owner(arn)
        while True:
            fresh = self._fresh(arn, generation=1)
            if await create_lock(self.gw, self.table, fresh):
                return self._held(fresh)
            held = await read_lock(self.gw, self.table, self.app)
            if held is None:
                continue  # released between the put and the read: try again
            stale = None
            if not self.force:
                stale = await judge_stale(
                    self.gw,
                    self.table,
                    held,
                    self.settings.lock_lease_seconds,
                    clock=self.clock,
                    watch=self._watch,
                )
                if stale is None:
                    raise LockHeld(await read_lock(self.gw, self.table, self.app) or held)
                held = stale
            info = self._fresh(arn, generation=held.generation + 1)
            if not await replace_lock(self.gw, self.table, info, held):
                continue  # it moved under us: judge it again
            how = "expired lock taken over" if stale else "forced takeover"
            self.taken_from = held
            await record_takeover(
                self.gw, self.audit_table, held, self.owner, how, generation=info.generation
            )
            return self._held(info)

    def _held(self, info: LockInfo) -> LockInfo:
        self.info = info
        self.generation = info.generation
        self.lost.clear()
        self.lost_reason = ""
        if self.kind == DEPLOY:
            self._beat = asyncio.create_task(self._heartbeat(), name=f"lock-heartbeat-{self.app}")
        return info

    def _lose(self, reason: str) -> None:
        if not self.lost.is_set():
            self.lost_reason = reason
            self.lost.set()

    async def _why_lost(self) -> str:
        try:
            now = await read_lock(self.gw, self.table, self.app)
        except AwsError:
            now = None
        if now is None:
            return f"the deploy lock of {self.app} was released by someone else (unlock --force)"
        return (
            f"the deploy lock of {self.app} was taken over by {now.owner} "
            f"(generation {self.generation} -> {now.generation})"
        )

    async def _heartbeat(self) -> None:
        lease = self.settings.lock_lease_seconds
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(self.settings.lock_heartbeat_seconds)
            expires = self.clock() + lease
            try:
                still = await renew_lock(
                    self.gw, self.table, self.app, self.owner, self.generation, expires
                )
            except AwsError:
                # A blip: the lease outlives several heartbeats; beyond it, a contender may
                # rightly have judged it stale.
                if time.monotonic() - renewed >= lease:
                    self._lose(f"the deploy lock of {self.app} went unrenewed for a whole lease")
                    return
                continue
            if not still:
                self._lose(await self._why_lost())
                return
            renewed = time.monotonic()

    async def verify(self) -> bool:
        """True when this process still holds the lease (a consistent read); otherwise the
        lock is marked `lost` with the reason, and False."""
        if self.lost.is_set():
            return False
        if self.info is None:
            return True  # not acquired (a rollout driven without a lock)
        try:
            ours = await holds(self.gw, self.table, self.app, self.owner, self.generation)
        except AwsError:
            return True  # a blip: the heartbeat judges a lasting failure
        if not ours:
            self._lose(await self._why_lost())
        return ours

    async def release(self) -> None:
        """Stop the heartbeat and delete the lock if it is still ours (this generation)."""
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._beat
            self._beat = None
        if self.info is not None:
            self.info = None
            await _delete_lock(self.gw, self.table, self.app, self.owner, self.generation)

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
    await _delete_lock(gw, table, app, owner=None)
    if held is not None and held.owner != by:
        await record_takeover(gw, audit_table, held, by, "unlock --force")
    return held


async def record_takeover(
    gw: Gateway, audit_table: str, held: LockInfo, by: str, how: str, *, generation: int = 0
) -> None:
    """An audit item in the rollouts table: `kind=lock-takeover`, who took it from whom, how,
    and the generation it took (0 when the lock was deleted, not replaced)."""
    if not audit_table:
        return
    now = utc_now()
    gen = f" (generation {held.generation} -> {generation})" if generation else ""
    await RolloutLedger(gw, audit_table).put(
        {
            "app": held.app,
            "rollout_id": new_rollout_id(),
            "kind": "lock-takeover",
            "state": RolloutState.SUCCEEDED,
            "owner": by,
            "taken_from": held.owner,
            "generation": generation,
            "started_at": now,
            "finished_at": now,
            "outcome": f"{how}: lock taken from {held.owner} by {by}{gen}",
            "reason": f"held since {_iso(held.acquired_at)}"
            + (f": {held.message}" if held.message else ""),
            "steps": [],
        }
    )
