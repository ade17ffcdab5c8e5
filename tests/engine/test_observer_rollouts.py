"""The observer reads the rollouts table only when something may have moved, yet a
rollout run by another process shows within two ticks, and so does its end."""

from __future__ import annotations

from rollout.aws.gateway import Gateway
from rollout.config import RolloutSettings, Tables
from rollout.fleet.observer import FleetObserver
from rollout.fleet.records import latest_per_app
from rollout.ledger.history import app_history
from rollout.ledger.lease import DeployLock, record_takeover
from rollout.ledger.rollouts import RolloutLedger, utc_now
from rollout.model import FleetSnapshot

from .moto_fleet import add_group, seed_app, set_weights

RID1 = "20261127-100000-aaaa"
RID2 = "20261127-110000-bbbb"
QUERY = "dynamodb:Query"
LOCKS = "dynamodb:BatchGetItem"


def _rollout(app: str, rollout_id: str, state: str) -> dict[str, object]:
    return {
        "app": app, "rollout_id": rollout_id, "from_release": "v1", "to_release": "v2",
        "strategy": "blue-green", "state": state, "owner": "ann@laptop:42",
        "started_at": utc_now(), "steps": [],
    }  # fmt: skip


async def _quiet(observer: FleetObserver, ticks: int = 2) -> None:
    """Tick until `ticks` ticks in a row read no rollouts (bounded)."""
    quiet = 0
    for _ in range(20):
        mark = observer.calls.mark()
        await observer.tick()
        quiet = quiet + 1 if observer.calls.since(mark)[QUERY] == 0 else 0
        if quiet >= ticks:
            return
    raise AssertionError("the observer kept reading the rollouts table on a quiet fleet")


async def test_a_quiet_fleet_reads_the_locks_every_tick_and_the_rollouts_never(
    ledger: Gateway, moto: str
) -> None:
    seed_app(moto, "calm", release="v1", rollout_id=RID1, capacity=2)
    observer = FleetObserver(ledger, Tables(), rediscover_every=1000)
    first = observer.calls.mark()
    await observer.tick()
    assert observer.calls.since(first)[QUERY] >= 1  # discovery reads them

    await _quiet(observer)
    mark = observer.calls.mark()
    for _ in range(3):
        await observer.tick()
    calls = observer.calls.since(mark)
    assert (calls[QUERY], calls[LOCKS]) == (0, 3), dict(calls)


async def test_a_rollout_started_elsewhere_is_seen_within_two_ticks_and_so_is_its_end(
    ledger: Gateway, moto: str
) -> None:
    """Another process takes the lock and writes a running rollout; no group changes
    (a rollout still in its first step), so only the lock tells the observer to look."""
    tables = Tables()
    seed_app(moto, "pay", release="v1", rollout_id=RID1, capacity=1)
    observer = FleetObserver(ledger, tables, rediscover_every=1000)
    await observer.tick()
    await _quiet(observer)

    async with Gateway(ledger.backend) as other:  # the deploying process: its own client
        settings = RolloutSettings()
        lock = DeployLock(other, tables.locks, "pay", settings, owner="ann@laptop:42")
        await lock.acquire()
        try:
            await RolloutLedger(other, tables.rollouts).put(_rollout("pay", RID2, "running"))
            seen = []
            for _ in range(2):
                snapshot, _ = await observer.tick()
                app = snapshot.app("pay")
                assert app is not None
                seen.append((app.active_rollout_id, app.lock is not None))
            assert seen[-1] == (RID2, True), seen

            await RolloutLedger(other, tables.rollouts).update(
                "pay", RID2, state="succeeded", finished_at=utc_now()
            )
        finally:
            await lock.release()

    ended = []
    for _ in range(2):
        snapshot, _ = await observer.tick()
        app = snapshot.app("pay")
        assert app is not None
        ended.append((app.active_rollout_id, app.lock is not None))
    assert ended[-1] == ("", False), ended
    await _quiet(observer)  # and once it is over, the table is left alone again


async def test_a_new_group_makes_the_same_tick_read_its_rollout(ledger: Gateway, moto: str) -> None:
    """A rollout's item is written before its group: a tick that sees the group sees the
    rollout too, lock or no lock."""
    tables = Tables()
    seeded = seed_app(moto, "api", release="v1", rollout_id=RID1, capacity=1)
    observer = FleetObserver(ledger, tables, rediscover_every=1000)
    await observer.tick()
    await _quiet(observer)

    await RolloutLedger(ledger, tables.rollouts).put(_rollout("api", RID2, "running"))
    add_group(moto, seeded, release="v2", rollout_id=RID2, capacity=1)
    snapshot, _ = await observer.tick()
    app = snapshot.app("api")
    assert app is not None and app.active_rollout_id == RID2
    assert {g.release: g.role.value for g in app.groups}["v2"] == "launching"


async def test_latest_per_app_skips_lock_takeover_audit_items(ledger: Gateway) -> None:
    """A takeover's audit item gets a newer rollout id than the rollout it interrupted:
    it must not stand in for the app's latest rollout."""
    tables = Tables()
    await RolloutLedger(ledger, tables.rollouts).put(_rollout("shop", RID1, "running"))
    holder = DeployLock(ledger, tables.locks, "shop", RolloutSettings(), owner="bob@desk:7")
    held = await holder.acquire()
    await holder.release()
    await record_takeover(ledger, tables.rollouts, held, "ann@laptop:42", "unlock")

    records = await app_history(ledger, tables, "shop")
    assert {r.kind for r in records} == {"", "lock-takeover"}
    assert max(records, key=lambda r: r.rollout_id).kind == "lock-takeover"
    latest = latest_per_app(records)
    assert latest["shop"].rollout_id == RID1


async def test_a_deploy_interrupted_in_its_bake_reads_as_status_reads_it_on_the_next_tick(
    ledger: Gateway, moto: str
) -> None:
    """Another process deploys v2 and is interrupted in the bake (Ctrl-C): its rollout is
    left detached, its lock released. The console's observer, which watched it run, reads
    v1's group as retained and the rollout as unfinished at once, as a one-off read does."""
    tables = Tables()
    seeded = seed_app(moto, "web", release="v1", rollout_id=RID1, capacity=1)
    observer = FleetObserver(ledger, tables, rediscover_every=1000)
    await observer.tick()
    await _quiet(observer)

    async with Gateway(ledger.backend) as other:
        lock = DeployLock(other, tables.locks, "web", RolloutSettings(), owner="ann@laptop:42")
        await lock.acquire()
        rollouts = RolloutLedger(other, tables.rollouts)
        await rollouts.put(_rollout("web", RID2, "running"))
        new_tg = add_group(moto, seeded, release="v2", rollout_id=RID2, capacity=1)
        set_weights(moto, seeded, {new_tg: 100, seeded.groups[RID1][1]: 0})
        await observer.tick()
        await rollouts.update("web", RID2, state="detached", outcome="interrupted after the shift")
        await lock.release()

    def reading(snapshot: FleetSnapshot) -> tuple[str, dict[str, str]]:
        app = snapshot.app("web")
        assert app is not None
        return app.active_rollout_id, {g.release: g.role.value for g in app.groups}

    once, _ = await FleetObserver(ledger, tables).tick()  # `freshfleet status`
    assert reading(once) == (RID2, {"v1": "retained", "v2": "serving"})
    for _ in range(2):
        snapshot, _ = await observer.tick()
    assert reading(snapshot) == reading(once)
