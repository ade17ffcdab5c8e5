"""The fleet screen over a recorded fleet: what an on-call engineer sees and can do."""

from __future__ import annotations

from dataclasses import replace

from console_helpers import recorded_app, screen_text, wait_for

from console.tui.fleet_rows import FLAG_FAIL_OPEN, FLAG_NO_HEALTHY, FLAG_STALE_IN_TRAFFIC
from console.tui.fleet_source import RecordedSource
from console.tui.screens.fleet import FleetScreen
from console.tui.screens.help import HelpScreen
from console.tui.screens.instance import InstanceScreen
from rollout.config import Config
from rollout.model import GroupRole, HealthState, TargetHealth
from tests.fixtures.fleets import demo_snapshot, with_health

UNHEALTHY = TargetHealth(
    HealthState.UNHEALTHY,
    "Target.FailedHealthChecks",
    "Health checks failed with these codes: [503]",
)


def fleet(app) -> FleetScreen:
    screen = app.get_screen("fleet")
    assert isinstance(screen, FleetScreen)
    return screen


async def test_the_demo_app_shows_its_serving_group_and_three_instances():
    snap = demo_snapshot()
    app = recorded_app([snap])
    async with app.run_test(size=(160, 40)) as pilot:
        table = fleet(app).table
        await wait_for(pilot, lambda: table.snapshot is not None, what="the first poll")
        await pilot.pause()
        text = table.visible_text()
        assert "demo-web  serving v1" in text
        assert "SERVING" in text and "weight 100" in text and "healthy 3/3" in text
        for iid in snap.instances:
            line = next(line for line in text.splitlines() if iid in line)
            assert "running" in line and "healthy" in line and "v1" in line
            assert "health ok" in line and "t3.small" in line and "1d" in line
        assert "LOCAL SANDBOX" in fleet(app).bar.render().plain


async def test_an_instance_turning_unhealthy_shows_with_awss_reason():
    healthy = demo_snapshot()
    victim = sorted(healthy.instances)[1]
    sick = with_health(healthy, victim, UNHEALTHY)
    app = recorded_app([healthy, sick])
    async with app.run_test(size=(160, 40)) as pilot:
        table = fleet(app).table

        def victim_line() -> str:
            return next((ln for ln in table.visible_text().splitlines() if victim in ln), "")

        await wait_for(pilot, lambda: "unhealthy" in victim_line(), what="the unhealthy target")
        assert "Target.FailedHealthChecks" in victim_line()
        assert "healthy 2/3" in table.visible_text()
        table.move_cursor_to(victim)
        await pilot.pause()
        assert "Health checks failed with these codes: [503]" in str(
            fleet(app).query_one("#selection").render()
        )


async def test_mismatches_are_flagged():
    snap = demo_snapshot(with_rollout=True)
    app_obj = snap.apps[0]
    old, new = app_obj.groups
    # v2 took 10 % of traffic while v1 still serves: its healthy targets mislead users.
    canary = replace(new, weight=10, role=GroupRole.SERVING)
    split = replace(snap, apps=(replace(app_obj, groups=(old, canary)),))
    everything_down = split
    for iid in split.instances:
        everything_down = with_health(everything_down, iid, UNHEALTHY)
    now = {"fleet": split}
    app = recorded_app(RecordedSource(lambda _tick: now["fleet"]))
    async with app.run_test(size=(180, 40)) as pilot:
        table = fleet(app).table
        await wait_for(pilot, lambda: table.snapshot is split, what="the split fleet")
        await pilot.pause()
        stale = [ln for ln in table.visible_text().splitlines() if FLAG_STALE_IN_TRAFFIC in ln]
        assert len(stale) == 1 and "v2" in stale[0] and " healthy" in stale[0]
        now["fleet"] = everything_down
        await wait_for(pilot, lambda: FLAG_FAIL_OPEN in table.visible_text(), what="fail-open")
        assert FLAG_NO_HEALTHY in table.visible_text()


async def test_filter_by_any_column_and_invert_with_a_bang():
    snap = demo_snapshot(with_rollout=True)
    app = recorded_app([snap], poll_seconds=1.0)
    async with app.run_test(size=(160, 40)) as pilot:
        table = fleet(app).table
        await wait_for(pilot, lambda: table.snapshot is not None)
        await pilot.press("slash", *"unhealthy", "enter")
        assert len(table.instance_keys) == 1
        assert "Target.FailedHealthChecks" in table.visible_text()
        assert "filter unhealthy: 1 of 6 instances" in fleet(app).bar.note
        await pilot.press("slash", "ctrl+a", "ctrl+k", *"!us-east-1a", "enter")
        shown = [snap.instances[i].az for i in table.instance_keys]
        assert shown and "us-east-1a" not in shown and len(shown) == 4
        await pilot.press("escape")
        assert len(table.instance_keys) == 6


async def test_question_mark_lists_the_keys_with_their_ids():
    app = recorded_app([demo_snapshot()])
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: fleet(app).table.snapshot is not None)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        await wait_for(pilot, lambda: "Palette" in screen_text(app), what="the keys drawn")
        keys = screen_text(app)
        for words in ("Filter", "Open", "Sort", "Quit", "Help", "Palette"):
            assert words in keys
        # The vi keys beside the arrows and home/end: j k g G are listed too.
        cells = [line.strip("█ ").split() for line in keys.splitlines() if "fleet." in line]
        rows = {words[-1]: words for words in cells}
        assert "k" in rows["fleet.up"] and "j" in rows["fleet.down"], rows
        assert "g" in rows["fleet.top"] and "G" in rows["fleet.bottom"], rows
        await pilot.press("escape")
        assert isinstance(app.screen, FleetScreen)


async def test_a_remapped_key_works_and_help_shows_it():
    config = Config(keymap={"filter": "f"})
    app = recorded_app([demo_snapshot()], config=config)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: fleet(app).table.snapshot is not None)
        await pilot.press("f")
        assert fleet(app).query_one("#filter").has_focus


async def test_enter_opens_the_instance_with_its_console_output():
    snap = demo_snapshot()
    app = recorded_app([snap])
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: fleet(app).table.snapshot is not None)
        await pilot.press("enter")
        assert isinstance(app.screen, InstanceScreen)
        log = app.screen.query_one("#console")
        await wait_for(pilot, lambda: "health ok" in "\n".join(log.lines), what="console output")
        shown = screen_text(app)
        assert app.screen.instance.instance_id in shown and "target health" in shown
        await pilot.press("escape")
        assert isinstance(app.screen, FleetScreen)


async def test_failing_polls_turn_the_freshness_into_a_warning_with_the_error():
    source = RecordedSource(
        [demo_snapshot()],
        fail_on=frozenset(range(1, 100_000)),
        error=RuntimeError("ThrottlingException: Rate exceeded"),
    )
    app = recorded_app(source)
    async with app.run_test(size=(160, 40)) as pilot:
        bar = fleet(app).bar
        await wait_for(pilot, lambda: bar.error, what="the poll error")
        assert "poll failed: ThrottlingException: Rate exceeded" in bar.render().plain
        assert "demo-web" in fleet(app).table.visible_text()  # the last fleet stays


async def test_polls_never_overlap_and_keep_coming():
    source = RecordedSource([demo_snapshot()])
    in_flight = 0
    most = 0
    poll = source.poll

    async def slow_poll():
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            import asyncio

            await asyncio.sleep(0.1)
            return await poll()
        finally:
            in_flight -= 1

    source.poll = slow_poll  # type: ignore[method-assign]
    app = recorded_app(source, poll_seconds=0.01)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: source.polls >= 5, what="five polls")
    assert most == 1


async def test_a_production_account_shows_the_red_banner_and_starts_read_only():
    config = Config(production_accounts=("123456789012",))
    app = recorded_app(
        [demo_snapshot()], config=config, account="123456789012", label="account 123456789012"
    )
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: fleet(app).table.snapshot is not None)
        banner = str(fleet(app).query_one("ProductionBanner").render())
        assert "PRODUCTION account 123456789012" in banner and "read-only" in banner
        assert app.read_only and "READ-ONLY" in fleet(app).bar.render().plain


async def test_the_console_output_pane_searches_a_64_kb_log():
    from console.tui.app import Connection, FreshfleetApp
    from tests.fixtures.fleets import FROZEN_NOW

    boot = [f"[{n:>10.6f}] systemd[1]: Started unit {n}." for n in range(1400)]
    # Console lines end with a newline; the pane, like `logs -f`, shows only whole lines.
    text = "\n".join([*boot, "freshfleet-boot 2026-11-27T11:59:06Z health fail 503"]) + "\n"
    assert len(text) >= 60_000

    async def output(instance_id: str) -> str:
        return text

    async def connect() -> Connection:
        return Connection("LOCAL SANDBOX", RecordedSource([demo_snapshot()]), console_output=output)

    app = FreshfleetApp(connect, clock=lambda: FROZEN_NOW, poll_seconds=1.0)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: fleet(app).table.snapshot is not None)
        await pilot.press("l")
        assert isinstance(app.screen, InstanceScreen)
        log = app.screen.query_one("#console")
        await wait_for(pilot, lambda: len(log.lines) > 1400, what="the whole log")
        await pilot.press("slash", *"health fail", "enter")
        await wait_for(pilot, lambda: "1 of 1" in screen_text(app), what="the match")
        assert "line 1401" in screen_text(app)
        assert log.scroll_y > 1300  # the match is on screen


async def test_a_big_fleet_freezes_the_heap_after_its_first_frame_and_a_small_one_not():
    import gc

    from console.tui.screens.fleet import FREEZE_OVER

    gc.unfreeze()
    try:
        app = recorded_app([demo_snapshot()])
        async with app.run_test(size=(160, 40)) as pilot:
            await wait_for(pilot, lambda: fleet(app).table.snapshot is not None)
            await pilot.pause()
            assert gc.get_freeze_count() == 0
        big = demo_snapshot(instances_per_group=FREEZE_OVER)
        app = recorded_app([big])
        async with app.run_test(size=(160, 40)) as pilot:
            await wait_for(pilot, lambda: fleet(app).table.snapshot is not None)
            await wait_for(pilot, lambda: gc.get_freeze_count() > 0, what="the frozen heap")
    finally:
        gc.unfreeze()
