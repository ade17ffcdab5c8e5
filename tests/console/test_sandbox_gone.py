"""The console's own sandbox: its death is said at once, and quitting says it ends with it."""

from __future__ import annotations

import argparse
import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from console_helpers import deploy_by_keys, screen_text, wait_for
from textual.widgets import Button

from console.backend_choice import EmbeddedSandbox, console_config
from console.tui.app import POLL_GROUP, FreshfleetApp
from console.tui.screens.dialogs import StayOrDetach
from rollout.aws.backend import LOCAL_LABEL


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> Iterator[EmbeddedSandbox]:
    """The console's own sandbox (simulated), stopped after the test."""
    # Its own endpoint file: the session's localaws fixtures keep theirs.
    monkeypatch.setenv("FRESHFLEET_ENDPOINT_FILE", str(tmp_path / "localaws.json"))
    started = EmbeddedSandbox("simulated")
    started.start()
    yield started
    started.stop()


def console_on(sandbox: EmbeddedSandbox) -> FreshfleetApp:
    """The console as `freshfleet` opens it on its own sandbox (the demo's settings)."""
    config = console_config(argparse.Namespace(config=None), None)
    return FreshfleetApp(
        lambda: sandbox.connect(config), config=config, poll_seconds=0.5, backend_label=LOCAL_LABEL
    )


async def demo_shown(app: FreshfleetApp, pilot: Any) -> None:
    await wait_for(
        pilot,
        lambda: "demo-web  serving v1" in app.fleet_screen.table.visible_text(),
        within=120,
        what="the demo fleet",
    )


async def test_a_killed_embedded_sandbox_is_named_within_seconds_and_polling_stops(sandbox):
    app = console_on(sandbox)
    async with app.run_test(size=(160, 45)) as pilot:
        await demo_shown(app, pilot)
        assert sandbox.exit_reason() == ""
        os.killpg(sandbox._started.result().process.pid, signal.SIGKILL)
        # A poll's retries would take about 80 s to give up; the watch says it at once.
        await wait_for(
            pilot,
            lambda: "the local sandbox exited (killed by signal 9)" in screen_text(app),
            within=15,
            what="the sandbox's exit named",
        )
        assert app.poll_error == "the local sandbox exited (killed by signal 9)"
        assert all(w.is_finished for w in app.workers if w.group == POLL_GROUP)
        # The fleet last seen stays on screen, for the record.
        assert "demo-web" in app.fleet_screen.table.visible_text()


async def test_quitting_mid_rollout_on_the_embedded_sandbox_says_nothing_is_left_to_resume(
    sandbox,
):
    app = console_on(sandbox)
    async with app.run_test(size=(160, 45)) as pilot:
        await demo_shown(app, pilot)
        await deploy_by_keys(app, pilot, "v2")
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, StayOrDetach), what="the question")
        question = app.screen
        assert isinstance(question, StayOrDetach) and question.embedded
        shown = " ".join(screen_text(app).replace("█", " ").split())  # the lines unwrapped
        assert "stops when the console quits" in shown, shown
        assert "nothing is left to resume" in shown, shown
        assert "freshfleet resume" not in shown
        assert str(question.query_one("#detach", Button).label) == "Quit, ending the sandbox"
        assert question.query_one("#stay").has_focus
        await pilot.press("tab", "enter")  # Quit, ending the sandbox
        await wait_for(pilot, lambda: app.return_code is not None, what="the console's exit")
    sandbox.stop()  # as `freshfleet` does once the console has returned
    assert sandbox.exit_reason() != ""  # nothing left running
