"""Deploying, watching and refusing by keys, against localaws (simulated)."""

from __future__ import annotations

import re
from dataclasses import replace

from console_helpers import deploy_by_keys, pick_release, recorded_app, screen_text, wait_for

from console.backend_choice import connect_live
from console.tui.app import Connection, FreshfleetApp
from console.tui.screens.dialogs import (
    Confirm,
    ResumeOrRollback,
    RollbackChoice,
    StayOrDetach,
)
from console.tui.screens.history import HistoryScreen
from console.tui.screens.rollout import RolloutScreen
from localaws.process import LocalAws
from localaws.testing import start_test_localaws
from rollout.aws.backend import Backend
from rollout.aws.gateway import Gateway
from rollout.config import DEMO_ROLLOUT, Config
from rollout.deploy import find_unfinished
from rollout.ledger.lease import DeployLock
from tests.fixtures.fleets import demo_snapshot

QUICK = Config(rollout=replace(DEMO_ROLLOUT, bake_seconds=1.0, poll_seconds=0.5))


def backend_of(localaws: LocalAws) -> Backend:
    return Backend(endpoint_url=localaws.url, region=localaws.region, local=True)


def console_on(localaws: LocalAws) -> FreshfleetApp:
    backend = backend_of(localaws)
    return FreshfleetApp(
        lambda: connect_live(backend, QUICK),
        config=QUICK,
        poll_seconds=0.25,
        backend_label=backend.label,
    )


async def demo_ready(app: FreshfleetApp, pilot) -> None:
    table = app.fleet_screen.table
    await wait_for(
        pilot,
        lambda: table.visible_text().count(" healthy ") >= 3,
        within=60,
        what="demo-web healthy",
    )


async def test_deploy_v2_by_keys_and_watch_it_complete(fresh_localaws):
    app = console_on(fresh_localaws)
    async with app.run_test(size=(160, 45)) as pilot:
        await demo_ready(app, pilot)
        await pilot.press("d")
        await pick_release(app, pilot, "v2")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), within=30, what="the plan")
        await wait_for(pilot, lambda: "capacity" in screen_text(app), what="the plan drawn")
        plan = screen_text(app)
        assert "release" in plan and "v1" in plan and "v2" in plan and "capacity" in plan
        assert app.screen.query_one("#no").has_focus  # enter would cancel
        await pilot.press("tab", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RolloutScreen), what="the rollout")
        screen = app.screen
        await wait_for(
            pilot, lambda: screen.view.finished is not None, within=120, what="the rollout's end"
        )
        assert screen.view.finished.state == "succeeded"
        steps = [s.name for s in screen.view.steps]
        assert [s for s in steps if s in ("launch", "gate", "shift", "bake", "retire")] == [
            "launch",
            "gate",
            "shift",
            "bake",
            "retire",
        ]
        assert "succeeded" in screen_text(app)
        await pilot.press("escape")
        table = app.fleet_screen.table
        await wait_for(
            pilot,
            lambda: "demo-web  serving v2" in table.visible_text(),
            within=30,
            what="v2 serving",
        )
        # h: the ledger says who deployed what and how it ended.
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), what="the history")
        await wait_for(pilot, lambda: "v1 → v2" in screen_text(app), what="the rollout listed")
        assert "succeeded" in screen_text(app)


async def test_deploy_is_refused_while_someone_else_holds_the_lock(fresh_localaws):
    app = console_on(fresh_localaws)
    async with Gateway(backend_of(fresh_localaws)) as gw:
        other = DeployLock(
            gw,
            QUICK.tables.locks,
            "demo-web",
            QUICK.rollout,
            message="hotfix by alice",
            owner="alice@laptop:4242",
        )
        async with other, app.run_test(size=(160, 45)) as pilot:
            await demo_ready(app, pilot)
            await pilot.press("d")
            await pick_release(app, pilot, "v2")

            def refused() -> bool:
                return any("alice@laptop:4242" in str(n.message) for n in app._notifications)

            await wait_for(pilot, refused, within=30, what="the refusal")
            note = next(n for n in app._notifications if "alice" in str(n.message))
            assert "hotfix by alice" in str(note.message)
            assert app.rollout is None


async def test_read_only_shows_no_mutating_action_anywhere():
    app = recorded_app([demo_snapshot()], read_only=True)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.fleet_screen.table.snapshot is not None)
        await pilot.pause()
        footer = screen_text(app)
        assert "Filter" in footer and "Sort" in footer
        for word in ("Deploy", "Canary", "Rollback", "Abort"):
            assert word not in footer
        palette = [c.title for c in app.get_system_commands(app.screen)]
        assert "Filter" in palette
        assert not {"Deploy", "Canary", "Rollback", "Abort"} & set(palette)
        await pilot.press("d")
        assert app.screen is app.fleet_screen  # the key does nothing
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: "Palette" in screen_text(app), what="the help")
        assert "Deploy" not in screen_text(app)


async def test_deploy_keys_are_offered_when_not_read_only():
    app = recorded_app([demo_snapshot()])
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.fleet_screen.table.snapshot is not None)
        palette = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Deploy", "Canary", "Rollback", "Abort", "Filter", "Help"} <= set(palette)


def console_with(localaws: LocalAws, config: Config) -> FreshfleetApp:
    backend = backend_of(localaws)
    return FreshfleetApp(
        lambda: connect_live(backend, config),
        config=config,
        poll_seconds=0.25,
        backend_label=backend.label,
    )


async def test_deploy_v3_fails_its_gate_shows_why_and_v1_keeps_serving(fresh_localaws):
    quick_gate = replace(QUICK, rollout=replace(QUICK.rollout, gate_deadline_seconds=6.0))
    app = console_with(fresh_localaws, quick_gate)
    async with app.run_test(size=(160, 45)) as pilot:
        await demo_ready(app, pilot)
        screen = await deploy_by_keys(app, pilot, "v3")
        await wait_for(
            pilot, lambda: screen.view.finished is not None, within=90, what="the rollout's end"
        )
        assert screen.view.finished.state == "failed"
        assert screen.view.failure is not None and screen.view.failure.step == "gate"
        shown = screen_text(app)
        assert "gate failed" in shown and "failed" in shown
        await pilot.press("escape")
        table = app.fleet_screen.table
        await wait_for(
            pilot,
            lambda: (
                "demo-web  serving v1" in table.visible_text() and "v3" not in table.visible_text()
            ),
            within=30,
            what="v1 alone, v3's group deleted",
        )


async def test_rollback_during_the_bake_flips_traffic_back(fresh_localaws):
    long_bake = replace(QUICK, rollout=replace(QUICK.rollout, bake_seconds=60.0))
    app = console_with(fresh_localaws, long_bake)
    async with app.run_test(size=(160, 45)) as pilot:
        await demo_ready(app, pilot)
        screen = await deploy_by_keys(app, pilot, "v2")
        await wait_for(
            pilot,
            lambda: any(s.name == "bake" for s in screen.view.steps),
            within=90,
            what="the bake",
        )
        await pilot.press("r")
        choice = await rollback_choices(app, pilot)
        # Flip back is offered with its estimate in seconds; a fresh deploy is not (the
        # rollout is unfinished), and says why.
        shown = screen_text(app)
        assert "Flip back to the retained group" in shown
        assert re.search(r"Flip back to the retained group\s*~ \d+ s", shown), shown
        assert "(v1, 3/3 healthy)" in shown
        assert "unfinished: flip it back or abort it first" in shown
        assert not choice.query_one("#flip").disabled
        assert choice.query_one("#fresh").disabled
        assert str(choice.query_one("#fresh").label) == "Deploy v1"  # what served before
        await pilot.press("tab", "enter")  # Cancel -> Flip back
        await wait_for(
            pilot, lambda: screen.view.finished is not None, within=60, what="the rollback"
        )
        assert screen.view.finished.state == "rolled_back"
        await wait_for(
            pilot,
            lambda: "demo-web  serving v1" in app.fleet_screen.table.visible_text(),
            within=30,
            what="v1 serving again",
        )


async def rollout_ends(app: FreshfleetApp, pilot, state: str, *, what: str) -> RolloutScreen:
    """The rollout screen once opened and its rollout ended in `state`; back on the fleet."""
    await wait_for(pilot, lambda: isinstance(app.screen, RolloutScreen), what="the rollout")
    screen = app.screen
    assert isinstance(screen, RolloutScreen)
    await wait_for(pilot, lambda: screen.view.finished is not None, within=120, what=what)
    assert screen.view.finished.state == state
    await pilot.press("escape")
    return screen


async def serving(app: FreshfleetApp, pilot, version: str, *, gone: str = "") -> None:
    """Wait until the fleet table shows demo-web serving `version` (and `gone` nowhere)."""

    def shown() -> bool:
        text = app.fleet_screen.table.visible_text()
        return f"demo-web  serving {version}" in text and not (gone and gone in text)

    await wait_for(pilot, shown, within=30, what=f"{version} serving")


async def rollback_choices(app: FreshfleetApp, pilot) -> RollbackChoice:
    """The rollback dialog once drawn, with Cancel focused (enter would cancel)."""
    await wait_for(
        pilot,
        lambda: isinstance(app.screen, RollbackChoice) and app.screen.query("#no"),
        within=30,
        what="the ways back",
    )
    choice = app.screen
    assert isinstance(choice, RollbackChoice)
    await wait_for(pilot, lambda: choice.query_one("#no").has_focus, what="Cancel focused")
    return choice


async def test_rollback_after_the_bake_deploys_an_earlier_release_on_a_fresh_group(
    fresh_localaws,
):
    app = console_with(fresh_localaws, QUICK)
    async with app.run_test(size=(160, 45)) as pilot:
        await demo_ready(app, pilot)
        await deploy_by_keys(app, pilot, "v2")
        await rollout_ends(app, pilot, "succeeded", what="v2's rollout")
        await serving(app, pilot, "v2")
        await pilot.press("r")
        choice = await rollback_choices(app, pilot)
        shown = screen_text(app)
        # The bake is over: nothing to flip back to, and the dialog says since when.
        assert re.search(r"no retained group: the bake ended at \d\d:\d\d", shown), shown
        assert choice.query_one("#flip").disabled
        # v2's own boots were recorded: the fresh deploy of v1 has an ETA.
        assert re.search(r"v1: ETA ~ .*\(boot ~ \d+ s, shift ~ \d+ s, bake ~ 1 s", shown), shown
        assert str(choice.query_one("#fresh").label) == "Deploy v1"
        # Another earlier release can be picked; its ETA replaces v1's.
        await pilot.press("tab", "tab", "enter")  # Cancel -> Deploy v1 -> Other release…
        await pick_release(app, pilot, "v3")
        await wait_for(pilot, lambda: app.screen is choice, what="back to the choices")
        await wait_for(
            pilot, lambda: str(choice.query_one("#fresh").label) == "Deploy v3", what="v3 picked"
        )
        assert "v3: ETA ~ " in screen_text(app)
        await pilot.press("escape")  # changed my mind: nothing happens
        await wait_for(pilot, lambda: app.screen is app.fleet_screen, what="the fleet")
        await pilot.press("r")
        choice = await rollback_choices(app, pilot)
        await pilot.press("tab", "enter")  # Cancel -> Deploy v1 (flip back is disabled)
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), within=30, what="the plan")
        await wait_for(pilot, lambda: "capacity" in screen_text(app), what="the plan drawn")
        assert "Roll back demo-web v1" in screen_text(app)
        await pilot.press("tab", "enter")
        await rollout_ends(app, pilot, "succeeded", what="the fresh v1")
        await serving(app, pilot, "v1", gone="v2")  # on a fresh group; v2 retired


def production_console(localaws: LocalAws, config: Config) -> FreshfleetApp:
    """The console on localaws with its account marked production (deploys allowed)."""
    backend = backend_of(localaws)
    account = "123456789012"
    prod = replace(config, production_accounts=(account,))

    async def connect() -> Connection:
        return replace(await connect_live(backend, prod), account=account)

    return FreshfleetApp(
        connect, config=prod, allow_deploy=True, poll_seconds=0.25, backend_label=backend.label
    )


async def test_production_needs_the_app_name_typed_before_deploy_rollback_or_abort(
    fresh_localaws,
):
    app = production_console(fresh_localaws, QUICK)
    async with app.run_test(size=(160, 45)) as pilot:
        await demo_ready(app, pilot)
        assert app.production and not app.read_only
        await pilot.press("d")
        await pick_release(app, pilot, "v2")
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, Confirm)
                and app.screen.query("#typed")
                and app.screen.query("#yes")
            ),
            within=30,
            what="the typed confirmation",
        )
        confirm = app.screen
        yes = confirm.query_one("#yes")
        # Composed is not yet painted, nor focused: wait for the hint on screen and for the
        # focus on Cancel, not only for the DOM.
        await wait_for(
            pilot,
            lambda: (
                "Production: type demo-web to confirm." in screen_text(app)
                and confirm.query_one("#no").has_focus
            ),
            what="the production hint drawn, Cancel focused",
        )
        assert yes.disabled
        await pilot.press("shift+tab")  # Cancel -> the name field
        assert confirm.query_one("#typed").has_focus
        await pilot.press("enter")  # empty: nothing happens
        await pilot.press(*"demo-we", "enter")  # wrong: still nothing
        await pilot.pause()
        assert app.screen is confirm and yes.disabled and app.rollout is None
        await pilot.press("tab", "tab")  # Cancel, then past the disabled button
        assert not yes.has_focus
        await pilot.press("shift+tab", "shift+tab")
        assert confirm.query_one("#typed").has_focus  # focus selects the text: go to its end
        await pilot.press("end", "b")
        await wait_for(pilot, lambda: not yes.disabled, what="the button enabled")
        await pilot.press("tab", "tab", "enter")  # the name field -> Cancel -> Deploy
        await rollout_ends(app, pilot, "succeeded", what="the rollout's end")
        await serving(app, pilot, "v2")

        # r: the ways back are disabled until the name is typed.
        await pilot.press("r")
        choice = await rollback_choices(app, pilot)
        fresh = choice.query_one("#fresh")
        assert choice.query("#typed") and fresh.disabled
        await pilot.press("shift+tab", *"demo-web")
        await wait_for(pilot, lambda: not fresh.disabled, what="Deploy v1 enabled")
        assert choice.query_one("#flip").disabled  # no retained group: still not possible
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.fleet_screen, what="the fleet")

        # a: the abort asks for the name too.
        await pilot.press("a")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, Confirm) and app.screen.query("#typed"),
            what="the abort's typed confirmation",
        )
        assert app.screen.query_one("#yes").disabled
        await pilot.press("escape")


async def test_quitting_mid_rollout_asks_and_detaching_leaves_it_for_resume(fresh_localaws):
    long_bake = replace(QUICK, rollout=replace(QUICK.rollout, bake_seconds=20.0))
    app = console_with(fresh_localaws, long_bake)
    async with app.run_test(size=(160, 45)) as pilot:
        await demo_ready(app, pilot)
        screen = await deploy_by_keys(app, pilot, "v2")
        await wait_for(
            pilot,
            lambda: any(s.name == "bake" for s in screen.view.steps),
            within=90,
            what="the bake",
        )
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, StayOrDetach), what="the question")
        await wait_for(
            pilot,
            lambda: app.screen.query("#stay") and app.screen.query_one("#stay").has_focus,
            what="Stay focused",
        )
        await pilot.press("enter")  # stay: nothing changes
        assert app.rollout is not None
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, StayOrDetach), what="the question")
        await pilot.press("tab", "enter")
        await wait_for(pilot, lambda: app.return_code is not None, within=30, what="the exit")
    async with Gateway(backend_of(fresh_localaws)) as gw:
        item = await find_unfinished(gw, QUICK, "demo-web")
    assert item is not None and item.state == "detached"

    # The next console offers it: Later is focused; Resume finishes the bake and retires v1.
    again = console_with(fresh_localaws, QUICK)
    async with again.run_test(size=(160, 45)) as pilot:
        await wait_for(
            pilot,
            lambda: isinstance(again.screen, ResumeOrRollback) and again.screen.query("#later"),
            within=60,
            what="the offer to resume",
        )
        await wait_for(
            pilot, lambda: again.screen.query_one("#later").has_focus, what="Later focused"
        )
        await pilot.press("tab", "enter")
        await wait_for(pilot, lambda: isinstance(again.screen, RolloutScreen), what="resuming")
        resumed = again.screen
        await wait_for(
            pilot, lambda: resumed.view.finished is not None, within=90, what="the resumed end"
        )
        assert resumed.view.finished.state == "succeeded"


async def test_abort_during_the_gate_deletes_the_new_group_and_v1_never_changed(tmp_path):
    # Slow boots (2 s a phase), so the gate is still waiting when `a` is pressed.
    slow = {"FRESHFLEET_LOCALAWS__PHASE_SECONDS": "200"}  # AWS seconds: 2 s each here
    with start_test_localaws(tmp_path / "localaws", env=slow) as localaws:
        await abort_during_the_gate(localaws)


async def abort_during_the_gate(localaws: LocalAws) -> None:
    app = console_with(localaws, QUICK)
    async with app.run_test(size=(160, 45)) as pilot:
        await demo_ready(app, pilot)
        screen = await deploy_by_keys(app, pilot, "v2")
        await wait_for(
            pilot,
            lambda: any(s.name == "gate" for s in screen.view.steps),
            within=60,
            what="the gate",
        )
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        await pilot.press("tab", "enter")
        await wait_for(pilot, lambda: screen.view.finished is not None, within=60, what="the abort")
        assert screen.view.finished.state == "aborted"
        await wait_for(
            pilot,
            lambda: "v2" not in app.fleet_screen.table.visible_text(),
            within=30,
            what="v2's group gone",
        )
        assert "demo-web  serving v1" in app.fleet_screen.table.visible_text()


async def test_canary_gives_one_instance_a_share_then_the_whole_fleet(fresh_localaws):
    quick_canary = replace(QUICK, rollout=replace(QUICK.rollout, canary_watch_seconds=1.0))
    app = console_with(fresh_localaws, quick_canary)
    async with app.run_test(size=(160, 45)) as pilot:
        await demo_ready(app, pilot)
        await pilot.press("c")
        await pick_release(app, pilot, "v2")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), within=30, what="the plan")
        await wait_for(pilot, lambda: "canary" in screen_text(app), what="the canary plan")
        await pilot.press("tab", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RolloutScreen), what="the rollout")
        screen = app.screen
        assert isinstance(screen, RolloutScreen)
        await wait_for(
            pilot, lambda: screen.view.finished is not None, within=120, what="the rollout's end"
        )
        assert screen.view.finished.state == "succeeded"
        assert any("canary" in s.detail for s in screen.view.steps if s.name == "shift")
