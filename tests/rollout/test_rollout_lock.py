"""The deploy lock: one owner at a time, a lease kept alive by a heartbeat, released only by
its owner, taken over only with --force (and then on the record)."""

from __future__ import annotations

import asyncio
import time

import pytest

from rollout.aws.gateway import Gateway
from rollout.config import RolloutSettings, Tables
from rollout.ledger.lease import DeployLock, LockHeld
from rollout.ledger.locks import read_lock

TABLES = Tables()


def _settings(lease: float, beat: float) -> RolloutSettings:
    return RolloutSettings(lock_lease_seconds=lease, lock_heartbeat_seconds=beat)


async def _eventually_acquire(lock: DeployLock, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            await lock.acquire()
            return
        except LockHeld:
            assert time.monotonic() < deadline, "the lock never came free"
            await asyncio.sleep(0.2)


async def test_a_second_owner_is_refused_with_who_since_when_and_why(backend):
    app = "lock-refusal"
    async with Gateway(backend) as gw:
        first = DeployLock(
            gw, TABLES.locks, app, _settings(60, 20), message="ship v2", owner="ann@a:1"
        )
        second = DeployLock(gw, TABLES.locks, app, _settings(60, 20), owner="bob@b:2")
        async with first:
            with pytest.raises(LockHeld) as refused:
                await second.acquire()
            info = refused.value.info
            assert (info.owner, info.message) == ("ann@a:1", "ship v2")
            assert "locked by ann@a:1 since" in str(refused.value) and "ship v2" in str(
                refused.value
            )
        assert await read_lock(gw, TABLES.locks, app) is None  # released on exit


async def test_the_heartbeat_keeps_the_lease_and_an_expired_one_can_be_taken(backend):
    app = "lock-lease"
    async with Gateway(backend) as gw:
        beating = DeployLock(gw, TABLES.locks, app, _settings(3, 0.3), owner="ann@a:1")
        other = DeployLock(gw, TABLES.locks, app, _settings(3, 0.3), owner="bob@b:2")
        await beating.acquire()
        try:
            # Past the first lease: still held, the heartbeat renewed it.
            until = time.monotonic() + 4
            while time.monotonic() < until:
                with pytest.raises(LockHeld):
                    await other.acquire()
                await asyncio.sleep(0.3)
        finally:
            # A crash: the heartbeat stops, the lock item stays behind.
            assert beating._beat is not None
            beating._beat.cancel()
        await _eventually_acquire(other, within=8)
        await beating.release()  # the old owner cannot drop the new owner's lock
        held = await read_lock(gw, TABLES.locks, app)
        assert held is not None and held.owner == "bob@b:2"
        await other.release()


async def test_force_takes_the_lock_over_and_the_old_owner_learns_it_lost_it(backend):
    app = "lock-force"
    async with Gateway(backend) as gw:
        old = DeployLock(gw, TABLES.locks, app, _settings(60, 0.2), owner="ann@a:1")
        new = DeployLock(
            gw, TABLES.locks, app, _settings(60, 20), owner="bob@b:2", force=True,
            audit_table=TABLES.rollouts,
        )  # fmt: skip
        await old.acquire()
        await new.acquire()
        assert new.taken_from is not None and new.taken_from.owner == "ann@a:1"
        await asyncio.wait_for(old.lost.wait(), timeout=5)
        assert "taken over by bob@b:2 (generation 1 -> 2)" in old.lost_reason
        await old.release()
        await new.release()
        audit = await gw.call(
            "dynamodb",
            "query",
            TableName=TABLES.rollouts,
            KeyConditionExpression="app = :a",
            ExpressionAttributeValues={":a": {"S": app}},
        )
        (item,) = audit["Items"]
        assert item["kind"]["S"] == "lock-takeover"
        assert "ann@a:1" in item["outcome"]["S"] and item["owner"]["S"] == "bob@b:2"


async def test_a_contender_with_a_clock_an_hour_ahead_cannot_take_a_heartbeating_lease(backend):
    """Issue 18.5 (1): the lease's expiry is never judged on the contender's wall clock. A
    clock an hour fast sees the item as long expired, watches it, sees the heartbeat renew
    it and is refused; once the holder dies the same contender takes it after one lease."""
    app = "lock-fast-clock"
    async with Gateway(backend) as gw:
        holder = DeployLock(gw, TABLES.locks, app, _settings(2, 0.3), owner="ann@a:1")
        fast = DeployLock(
            gw, TABLES.locks, app, _settings(2, 0.3), owner="bob@b:2",
            clock=lambda: time.time() + 3600, audit_table=TABLES.rollouts,
        )  # fmt: skip
        await holder.acquire()
        try:
            with pytest.raises(LockHeld) as refused:
                await fast.acquire()
            assert "ann@a:1" in str(refused.value)
            held = await read_lock(gw, TABLES.locks, app)
            assert held is not None and (held.owner, held.generation) == ("ann@a:1", 1)
            assert await holder.verify() and not holder.lost.is_set()
        finally:
            assert holder._beat is not None
            holder._beat.cancel()  # the holder dies; its item stays behind
        await _eventually_acquire(fast, within=10)
        took = await read_lock(gw, TABLES.locks, app)
        assert took is not None and (took.owner, took.generation) == ("bob@b:2", 2)
        assert not await holder.verify()
        assert "taken over by bob@b:2 (generation 1 -> 2)" in holder.lost_reason
        await holder.release()  # cannot drop the new owner's lock
        assert (await read_lock(gw, TABLES.locks, app)) is not None
        await fast.release()
        audit = await gw.call(
            "dynamodb",
            "query",
            TableName=TABLES.rollouts,
            KeyConditionExpression="app = :a",
            ExpressionAttributeValues={":a": {"S": app}},
        )
        (item,) = audit["Items"]
        assert item["taken_from"]["S"] == "ann@a:1" and item["owner"]["S"] == "bob@b:2"
        assert "expired lock taken over" in item["outcome"]["S"]
