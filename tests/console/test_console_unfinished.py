"""A rollout left detached elsewhere while the console runs: the console offers to resume,
roll it back or abort it as soon as it sees it, and `r` and `a` lead to the same offer
rather than to a dead end."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from console_helpers import screen_text, wait_for
from textual.widgets import Button, Input

from console.backend_choice import connect_live
from console.tui.app import FreshfleetApp
from console.tui.screens.dialogs import ResumeOrRollback
from console.tui.screens.rollout import RolloutScreen
from localaws.process import LocalAws
from rollout.aws.backend import Backend
from rollout.aws.gateway import Gateway
from rollout.config import DEMO_ROLLOUT, Config
from rollout.deploy import DeployRequest, Rollout, find_unfinished, make_plan
from rollout.ledger.lease import DeployLock

QUICK = Config(rollout=replace(DEMO_ROLLOUT, bake_seconds=1.0, poll_seconds=0.5))


def backend_of(localaws: LocalAws) -> Backend:
    return Backend(endpoint_url=localaws.url, region=localaws.region, local=True)


async def deploy_elsewhere_and_leave_it_in_traffic(localaws: LocalAws) -> str:
    """Another terminal's `freshfleet deploy demo-web v2 --no-wait`: v2 takes the traffic,
    v1 is retained, the bake is left to whoever resumes it."""
    async with Gateway(backend_of(localaws)) as gw:
        lock = DeployLock(gw, QUICK.tables.locks, "demo-web", QUICK.rollout, owner="bob@ci:77")
        async with lock:
            plan = await make_plan(gw, QUICK, DeployRequest("demo-web", "v2"))
            result = await Rollout(gw, QUICK, plan, lock, no_wait=True).run()
        assert result.state == "detached", result
        return plan.rollout_id


async def test_a_rollout_detached_elsewhere_is_offered_then_r_offers_it_again(fresh_localaws):
    backend = backend_of(fresh_localaws)
    app = FreshfleetApp(
        lambda: connect_live(backend, QUICK),
        config=QUICK,
        poll_seconds=0.25,
        backend_label=backend.label,
    )
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.fleet_screen.table
        await wait_for(
            pilot, lambda: table.visible_text().count(" healthy ") >= 3, within=60, what="demo"
        )
        rollout_id = await deploy_elsewhere_and_leave_it_in_traffic(fresh_localaws)

        def offered() -> bool:
            return isinstance(app.screen, ResumeOrRollback) and bool(app.screen.query("#later"))

        # Seen by a poll of this console (not only at start): the offer comes up.
        await wait_for(pilot, offered, within=60, what="the offer while running")
        assert app.screen.rollout_id == rollout_id
        assert app.screen.query("#abort")
        await wait_for(pilot, lambda: app.screen.query_one("#later").has_focus, what="Later")
        await pilot.press("enter")  # later
        await wait_for(pilot, lambda: app.screen is app.fleet_screen, what="back on the fleet")

        # a: not "asks, then refuses": the same offer.
        await pilot.press("a")
        await wait_for(pilot, offered, within=30, what="the offer on a")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.fleet_screen, what="back on the fleet")

        # r: not two ways marked impossible: the same offer; Roll back flips traffic back.
        await pilot.press("r")
        await wait_for(pilot, offered, within=30, what="the offer on r")
        await pilot.press("tab", "tab", "enter")  # Later -> Resume -> Roll back
        await wait_for(pilot, lambda: isinstance(app.screen, RolloutScreen), what="rolling back")
        screen = app.screen
        await wait_for(pilot, lambda: screen.view.finished is not None, within=90, what="the end")
        assert screen.view.finished.state == "rolled_back", screen_text(app)
    async with Gateway(backend) as gw:
        assert await find_unfinished(gw, QUICK, "demo-web") is None


async def test_on_a_production_account_the_offer_needs_the_app_name_typed(fresh_localaws):
    """The offer to resume, roll back or abort changes a production fleet like any deploy: its
    actions stay disabled until the app's name is typed (before, it skipped the gate)."""
    backend = backend_of(fresh_localaws)
    prod = replace(QUICK, production_accounts=("123456789012",))

    async def connect() -> Any:
        return replace(await connect_live(backend, prod), account="123456789012")

    app = FreshfleetApp(
        connect, config=prod, allow_deploy=True, poll_seconds=0.25, backend_label=backend.label
    )
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.fleet_screen.table
        await wait_for(
            pilot, lambda: table.visible_text().count(" healthy ") >= 3, within=60, what="demo"
        )
        assert app.production
        await deploy_elsewhere_and_leave_it_in_traffic(fresh_localaws)
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, ResumeOrRollback)
                and bool(app.screen.query("#typed"))
                and bool(app.screen.query("#abort"))
            ),  # composed whole, its last button too
            within=60,
            what="the offer, with the typed-name gate",
        )
        offer = app.screen
        actions = [offer.query_one(f"#{a}", Button) for a in ("resume", "rollback", "abort")]
        await wait_for(
            pilot,
            lambda: "Production: type demo-web to confirm." in screen_text(app),
            what="the production hint drawn",
        )
        assert all(b.disabled for b in actions)
        offer.query_one("#typed", Input).focus()
        await pilot.press(*"demo-we")
        await pilot.pause()
        assert all(b.disabled for b in actions)
        await pilot.press("b")
        await wait_for(pilot, lambda: not any(b.disabled for b in actions), what="enabled")
        actions[1].press()  # Roll back
        await wait_for(pilot, lambda: isinstance(app.screen, RolloutScreen), what="rolling back")
        screen = app.screen
        await wait_for(pilot, lambda: screen.view.finished is not None, within=90, what="the end")
        assert screen.view.finished.state == "rolled_back", screen_text(app)
