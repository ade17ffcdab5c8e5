"""Stored text in the console is text: a boot detail holding Textual/Rich markup, an action
link or terminal escapes shows literally, runs nothing and crashes nothing (item 18.4)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from console_helpers import console_on, recorded_app, screen_text, wait_for
from textual.widget import Widget

from console.plain import plain
from console.tui.app import Connection, FreshfleetApp
from console.tui.fleet_rows import COLUMN_KEYS, app_row, instance_row, instance_sort_value
from console.tui.fleet_source import RecordedSource
from console.tui.rollout_view import RolloutView
from console.tui.screens.dialogs import ReleasePicker, ResumeOrRollback
from console.tui.screens.instance import InstanceScreen
from console.tui.screens.rollout import RolloutScreen
from localaws.testing import boto3_client
from rollout import events as ev
from rollout.config import Config
from rollout.model import InstanceState, InstanceView, LockInfo, Phase, PhaseStatus, Release
from tests.fixtures.fleets import FROZEN_NOW, demo_snapshot

# An action link (clicking "click-me" would quit) with an escape that sets the terminal's
# title; a closing tag with nothing open (a MarkupError when parsed) and a screen clear.
LINK = "[@click=app.quit]click-me[/] \x1b]0;pwned\x07"
LINK_SHOWN = "[@click=app.quit]click-me[/] \\x1b]0;pwned\\x07"
BROKEN = "[/] \x1b[2J"
BROKEN_SHOWN = "[/] \\x1b[2J"


def cell_of(widget: Widget, needle: str) -> tuple[int, int]:
    """The screen offset of a cell inside `needle` where `widget` shows it."""
    for row in range(widget.region.height):
        line = widget.render_line(row).text
        if needle in line:
            return widget.region.x + line.index(needle) + 2, widget.region.y + row
    raise AssertionError(f"{needle!r} is not shown in {widget}")


def test_plain_makes_control_characters_visible_and_leaves_brackets_alone():
    assert plain(LINK) == LINK_SHOWN and plain(BROKEN) == BROKEN_SHOWN
    assert plain("a\tb\nc\r") == "a\tb\nc\\r"
    assert plain("a\tb\nc", one_line=True) == "a\\tb\\nc"
    assert plain("\x9b31m \u202egnp.exe \x7f") == "\\x9b31m \\u202egnp.exe \\x7f"
    assert plain("v1 — ok") == "v1 — ok"


async def test_boot_details_with_markup_and_escapes_show_literally_and_run_nothing(
    fresh_localaws, eventually
):
    db = boto3_client("dynamodb", fresh_localaws.url, fresh_localaws.region)
    table_name = Config().tables.instances

    def two_settled_boots() -> list[dict[str, Any]] | None:
        items = db.scan(TableName=table_name, ConsistentRead=True)["Items"]
        done = [i for i in items if i["phase"]["S"] == "health" and i["status"]["S"] == "ok"]
        return done[:2] if len(done) >= 2 else None

    # Once the demo's boots are over (the console reads a finished boot once), what a boot
    # agent, or anyone who can write the instances table, reports for two instances.
    first, second = eventually(two_settled_boots, within=60, what="the demo booted")
    linked, broken = first["instance_id"]["S"], second["instance_id"]["S"]
    db.put_item(TableName=table_name, Item={**first, "detail": {"S": LINK}})
    db.put_item(TableName=table_name, Item={**second, "detail": {"S": BROKEN}})

    app = console_on(fresh_localaws, read_only=True)
    async with app.run_test(size=(200, 45)) as pilot:

        def details_seen() -> bool:
            snap = app.last_update.snapshot if app.last_update else None
            boots = [snap.instances[i].boot for i in (linked, broken)] if snap else []
            return [b.detail if b else "" for b in boots] == [LINK, BROKEN]

        await wait_for(pilot, details_seen, within=30, what="the poll to read the details")

        # The instance screen shows the link as text; clicking it runs no action.
        app.open_instance(linked)
        await wait_for(pilot, lambda: isinstance(app.screen, InstanceScreen), what="the screen")
        await wait_for(pilot, lambda: f"health ok — {LINK_SHOWN}" in screen_text(app), what="link")
        await pilot.click(offset=cell_of(app.screen.query_one("#details"), "click-me"))
        await pilot.pause()
        assert app.return_code is None and app.is_running
        assert isinstance(app.screen, InstanceScreen)

        # A stray closing tag is text too: the screen opens, nothing crashes.
        await pilot.press("escape")
        app.open_instance(broken)
        await wait_for(pilot, lambda: f"health ok — {BROKEN_SHOWN}" in screen_text(app), what="tag")
        assert app.return_code is None and app.is_running

        # The fleet's status line quotes the detail under the cursor, visibly.
        await pilot.press("escape")
        app.fleet_screen.table.move_cursor_to(linked)
        await wait_for(pilot, lambda: LINK_SHOWN in screen_text(app), what="the status line")
        assert "\x1b" not in screen_text(app)


async def test_a_failure_reason_with_an_action_link_shows_literally_on_the_rollout_screen():
    """The rollout screen's failure line was content markup: a boot detail quoted in the
    reason ran its action when clicked; a stray tag in a step's detail crashed the screen."""
    rid = "20261127-115800-c3d4"
    base = {"app": "demo-web", "rollout_id": rid}
    iid = "i-0123456789abcdef0"
    reason = f"instance {iid} failed its boot at health: {LINK}"
    happened = [
        ev.StepStarted(**base, at=FROZEN_NOW, step="gate", detail=BROKEN),
        ev.InstanceUpdate(
            **base,
            at=FROZEN_NOW,
            instance=InstanceView(
                instance_id=iid,
                group=f"demo-web-{rid}",
                state=InstanceState.RUNNING,
                phase=Phase.HEALTH,
                phase_status=PhaseStatus.FAIL,
                detail=LINK,
            ),
        ),
        ev.StepFinished(**base, at=FROZEN_NOW, step="gate", status="failed", detail=reason),
        ev.RolloutFailed(**base, at=FROZEN_NOW, step="gate", reason=reason),
        ev.RolloutFinished(**base, at=FROZEN_NOW, state="failed", outcome=BROKEN),
    ]

    async def events() -> AsyncIterator[ev.RolloutEvent]:
        for event in happened:
            yield event

    app = recorded_app([demo_snapshot()])
    async with app.run_test(size=(200, 45)) as pilot:
        await wait_for(pilot, lambda: app.fleet_screen.table.snapshot is not None)
        view = RolloutView("demo-web", rid)
        await app.push_screen(RolloutScreen(view, events, clock=lambda: FROZEN_NOW))
        failure = f"✗ gate failed: instance {iid} failed its boot at health: {LINK_SHOWN}"
        await wait_for(pilot, lambda: failure in screen_text(app), what="the failure line")
        text = screen_text(app)
        assert f"failed — {BROKEN_SHOWN}" in text  # the outcome
        assert LINK_SHOWN in text.replace(failure, "")  # the instance's detail
        await pilot.click(offset=cell_of(app.screen.query_one("#failure"), "click-me"))
        await pilot.pause()
        assert app.return_code is None and app.is_running
        assert isinstance(app.screen, RolloutScreen)


def test_fleet_rows_show_a_tags_escapes_and_line_breaks_on_their_one_line():
    snap = demo_snapshot()
    inst = next(iter(snap.instances.values()))
    tagged = dataclasses.replace(inst, release="v1\x1b[2J", az="us-east-1a\r\nzz")
    row = instance_row(tagged, None, "v1")
    cells = dict(zip(COLUMN_KEYS, row.cells, strict=True))
    assert (cells["release"], cells["az"]) == ("v1\\x1b[2J", "us-east-1a\\r\\nzz")
    assert instance_sort_value("release", tagged, None, "v1") == cells["release"]
    lock = LockInfo("demo-web", "ann@a:1", FROZEN_NOW, FROZEN_NOW, message="[/]\x07\nstop")
    app = dataclasses.replace(snap.apps[0], lock=lock)
    assert "locked by ann@a:1 since 12:00:00 ([/]\\x07\\nstop)" in app_row(app, snap.instances).text


async def test_console_output_escapes_and_brackets_show_as_written():
    """The Log blanked an escape to "�": the pane shows which escape the instance wrote."""

    async def colourful(instance_id: str) -> str:
        return "\x1b[31mFAILED\x1b[0m [/] [@click=app.quit]x\n"

    async def connect() -> Connection:
        source = RecordedSource([demo_snapshot()])
        return Connection("LOCAL SANDBOX", source, console_output=colourful)

    app = FreshfleetApp(connect, read_only=True, clock=lambda: FROZEN_NOW, poll_seconds=0.05)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.last_update is not None, what="the fleet")
        assert app.last_update is not None
        app.open_instance(next(iter(app.last_update.snapshot.instances)))
        shown = "\\x1b[31mFAILED\\x1b[0m [/] [@click=app.quit]x"
        await wait_for(pilot, lambda: shown in screen_text(app), what="the console output")
        assert app.return_code is None


async def test_the_deploy_pickers_release_notes_and_the_unfinished_offer_show_literally():
    """`d` lists each release with its notes, and an unfinished rollout is offered with its
    owner and releases: both were content markup, so a stray tag crashed the console."""
    notes = Release(
        "demo-web", "v9", "https://r.example.com/v9.tgz", "ab" * 32, created_by="ann", notes=BROKEN
    )
    app = recorded_app([demo_snapshot()])
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.fleet_screen.table.snapshot is not None)
        app.push_screen(ReleasePicker("demo-web", [notes], "v1", "Deploy"))
        await wait_for(pilot, lambda: f"ann{' ' * 17}  {BROKEN_SHOWN}" in screen_text(app))
        await pilot.press("escape")
        summary = f"v1 → v9 (blue-green), running by {LINK} after: gate."
        app.push_screen(ResumeOrRollback("demo-web", "20261127-115800-c3d4", summary))
        await wait_for(pilot, lambda: "running by [@click=app.quit]click-me[/]" in screen_text(app))
        assert app.return_code is None and app.is_running


async def test_a_notification_quoting_a_lock_message_shows_it_literally():
    """A refused deploy tells the lock's message in a toast, which was content markup."""
    app = recorded_app([demo_snapshot()])
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.fleet_screen.table.snapshot is not None)
        app.say(f"locked: {BROKEN}", title="refused: lock held")
        await wait_for(pilot, lambda: f"locked: {BROKEN_SHOWN}" in screen_text(app), what="toast")
        assert app.return_code is None and app.is_running
