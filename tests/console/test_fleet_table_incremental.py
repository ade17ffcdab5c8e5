"""The fleet table's incremental bookkeeping equals recomputing everything from scratch.

A poll touches only what its diff names (per-group counts, stale rows, sort values), so
after any sequence of diffs the table must read exactly as if built afresh: these tests
replay random health flips, added and removed instances and changed groups, and compare
with a full recount, a full sort and freshly built rows.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from console_helpers import recorded_app

from console.tui.fleet_rows import (
    COLUMN_KEYS,
    FleetTally,
    RowKind,
    RowStore,
    app_flag,
    app_flag_counted,
    app_row,
    group_row,
    instance_row,
    layout_keys,
)
from console.tui.fleet_source import FleetUpdate
from console.tui.screens.fleet import FleetScreen
from console.tui.widgets.fleet_table import FleetTable
from rollout.fleet.diff import diff_snapshots
from rollout.model import FleetSnapshot, GroupRole, HealthState, TargetHealth
from tests.fixtures.fleets import demo_snapshot

HEALTHS = (
    TargetHealth(HealthState.HEALTHY),
    TargetHealth(HealthState.UNHEALTHY, "Target.Timeout", "Request timed out"),
    TargetHealth(HealthState.INITIAL, "Elb.InitialHealthChecking"),
    TargetHealth(HealthState.DRAINING, "Target.DeregistrationInProgress"),
    None,
)


def base_fleet() -> FleetSnapshot:
    return demo_snapshot(apps=("web", "api", "jobs"), instances_per_group=12, with_rollout=True)


def mutate(snap: FleetSnapshot, rng: random.Random, step: int) -> FleetSnapshot:
    """A next poll: health flips, and now and then an instance or group change."""
    instances = dict(snap.instances)
    for iid in rng.sample(sorted(instances), 8):
        instances[iid] = replace(instances[iid], health=rng.choice(HEALTHS))
    apps = list(snap.apps)
    if step % 3 == 1:  # an instance leaves its group (and, every other time, the fleet)
        a = rng.randrange(len(apps))
        g = rng.randrange(len(apps[a].groups))
        group = apps[a].groups[g]
        if group.instance_ids:
            gone = rng.choice(group.instance_ids)
            if step % 2:
                instances.pop(gone, None)
            ids = tuple(i for i in group.instance_ids if i != gone)
            groups = list(apps[a].groups)
            groups[g] = replace(group, instance_ids=ids)
            apps[a] = replace(apps[a], groups=tuple(groups))
    if step % 3 == 2:  # a new instance joins a group
        a = rng.randrange(len(apps))
        group = apps[a].groups[0]
        model = snap.instances[next(iter(snap.instances))]
        iid = f"i-new{step:013d}"
        instances[iid] = replace(
            model, instance_id=iid, app=group.app, group=group.name, health=rng.choice(HEALTHS)
        )
        groups = list(apps[a].groups)
        groups[0] = replace(group, instance_ids=(*group.instance_ids, iid))
        apps[a] = replace(apps[a], groups=tuple(groups))
    if step % 4 == 3:  # the launching group takes traffic: flags and roles change
        a = rng.randrange(len(apps))
        groups = list(apps[a].groups)
        last = groups[-1]
        role = GroupRole.SERVING if last.role is not GroupRole.SERVING else GroupRole.RETIRING
        groups[-1] = replace(last, role=role, weight=rng.choice((0, 10, 50)))
        apps[a] = replace(apps[a], groups=tuple(groups))
    if step % 5 == 4:  # a whole group goes, with its instances
        a = rng.randrange(len(apps))
        if len(apps[a].groups) > 1:
            groups = list(apps[a].groups)
            dropped = groups.pop()
            for iid in dropped.instance_ids:
                instances.pop(iid, None)
            apps[a] = replace(apps[a], groups=tuple(groups))
    return replace(snap, apps=tuple(apps), instances=instances)


def frames(count: int, seed: int) -> list[FleetSnapshot]:
    rng = random.Random(seed)
    out = [base_fleet()]
    for step in range(1, count):
        out.append(mutate(out[-1], rng, step))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counts_kept_from_diffs_equal_a_full_recount(seed: int) -> None:
    tally = FleetTally()
    previous: FleetSnapshot | None = None
    for snap in frames(25, seed):
        diff = diff_snapshots(previous, snap)
        tally.update(
            snap,
            [*diff.added, *diff.changed, *diff.removed],
            diff.groups_changed,
            everything=previous is None,
        )
        groups = {g.name: g for a in snap.apps for g in a.groups}
        assert set(tally.groups) == set(groups)
        for name, group in groups.items():
            members = snap.instances_of(group)
            counted = tally.groups[name]
            assert counted.total == len(members)
            assert counted.healthy == sum(1 for i in members if i.health and i.health.healthy)
            assert group_row(group, (), tally=counted) == group_row(group, members)
        for app in snap.apps:
            assert app_flag_counted(app, tally.groups) == app_flag(app, snap.instances)
        previous = snap


def test_the_counted_app_flag_sees_an_app_fail_open() -> None:
    snap = demo_snapshot(instances_per_group=3)
    sick = TargetHealth(HealthState.UNHEALTHY, "Target.Timeout")
    down = replace(snap, instances={k: replace(i, health=sick) for k, i in snap.instances.items()})
    tally = FleetTally()
    tally.update(snap, (), everything=True)
    assert app_flag_counted(snap.apps[0], tally.groups) == ""
    changed = tally.update(down, list(down.instances))
    assert changed == {snap.apps[0].groups[0].name}
    assert app_flag_counted(down.apps[0], tally.groups) == app_flag(down.apps[0], down.instances)
    assert app_flag_counted(down.apps[0], tally.groups) != ""


def test_a_row_store_builds_a_stale_row_once_on_read() -> None:
    snap = demo_snapshot()
    calls: list[str] = []
    live = dict(snap.instances)

    def build(key: str):
        calls.append(key)
        inst = live.get(key)
        return instance_row(inst, None, "") if inst is not None else None

    store = RowStore(build)
    first, second = sorted(snap.instances)[:2]
    store.mark(first)
    store.mark(second)
    assert calls == [] and len(store) == 2 and set(store) == {first, second}
    assert store[first].key == first and store[first] is store[first]
    assert calls == [first]
    del live[second]
    assert second in store  # still marked: the builder decides on read
    with pytest.raises(KeyError):
        store[second]
    assert second not in store and store.get(second) is None
    store.mark(first)
    assert store[first] is not None and calls == [first, second, first]


async def test_after_many_polls_the_table_reads_as_if_built_afresh() -> None:
    shots = frames(30, seed=5)
    app = recorded_app([shots[0]], poll_seconds=3600)
    async with app.run_test(size=(160, 30)) as pilot:
        screen = app.get_screen("fleet")
        assert isinstance(screen, FleetScreen)
        table = screen.table
        while table.snapshot is None:
            await pilot.pause()
        columns = [c for c in COLUMN_KEYS if c != "id"]
        for n, snap in enumerate(shots[1:], start=1):
            if n % 4 == 0:  # sorting changes between polls, so sort values must follow
                column = columns[(n // 4) % len(columns)]
                table.sort_by(column, reverse=n % 8 == 0)
            table.apply(FleetUpdate(snap, diff_snapshots(shots[n - 1], snap)))
            await pilot.pause()
            assert_matches_a_fresh_build(table, snap)
        table.set_filter("unhealthy")
        assert_matches_a_fresh_build(table, shots[-1])


def assert_matches_a_fresh_build(table: FleetTable, snap: FleetSnapshot) -> None:
    groups = {g.name: g for a in snap.apps for g in a.groups}
    serving = {a.name: a.serving_release for a in snap.apps}
    fresh = {
        k: instance_row(i, groups.get(i.group), serving.get(i.app, ""))
        for k, i in snap.instances.items()
    }
    group_rows = {name: group_row(g, snap.instances_of(g)) for name, g in groups.items()}
    for name, row in group_rows.items():
        assert table.rows[f"group:{name}"] == row
        fresh[f"group:{name}"] = row
    for app in snap.apps:
        fresh[f"app:{app.name}"] = app_row(app, snap.instances)
        assert table.rows[f"app:{app.name}"] == fresh[f"app:{app.name}"]
    expected = layout_keys(
        snap.apps,
        group_rows,
        fresh,
        sort_column=table.sort_column,
        reverse=table.sort_reverse,
        row_filter=table.row_filter,
    )
    assert table.order == expected
    for key in expected:
        assert table.rows[key] == fresh[key]
    shown = [k for k in expected if fresh[k].kind is RowKind.INSTANCE]
    assert table.instance_keys == shown and table.shown_instances == len(shown)


async def test_a_poll_builds_only_the_rows_on_screen() -> None:
    big = demo_snapshot(apps=("web", "api"), instances_per_group=400)
    rng = random.Random(3)
    flipped = dict(big.instances)
    for iid in rng.sample(sorted(flipped), 200):
        flipped[iid] = replace(flipped[iid], health=HEALTHS[1])
    after = replace(big, instances=flipped)
    app = recorded_app([big], poll_seconds=3600)
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.get_screen("fleet").query_one(FleetTable)
        while table.snapshot is None:
            await pilot.pause()
        await pilot.pause()
        built = table.rows.built
        assert built <= table.size.height  # the first frame built what it shows
        table.apply(FleetUpdate(after, diff_snapshots(big, after)))
        await pilot.pause()
        assert table.rows.built - built <= table.size.height
        on_screen = table.visible_text()
        for key in table.order[: table.size.height - 1]:
            if key in flipped and flipped[key].health == HEALTHS[1]:
                assert f"{key}" in on_screen
                line = next(ln for ln in on_screen.splitlines() if key in ln)
                assert "unhealthy Target.Timeout" in line
