"""The embedded sandbox dying mid-session is said at once, not after a poll's retries."""

from __future__ import annotations

import argparse
import os
import signal

from console_helpers import deploy_by_keys, screen_text, wait_for
from textual.widgets import Button

from console.app import POLL_GROUP, FreshfleetApp
from console.launch import EmbeddedSandbox, console_config
from console.screens.dialogs import StayOrDetach
from rollout.backend import LOCAL_LABEL
from rollout.config import Config


async def test_a_killed_embedded_sandbox_is_named_within_seconds_and_polling_stops(
    tmp_path, monkeypatch
):
    # Its own endpoint file: the session's localaws fixtures keep theirs.
    monkeypatch.setenv("FRESHFLEET_ENDPOINT_FILE", str(tmp_path / "localaws.json"))
    sandbox = EmbeddedSandbox("simulated")
    sandbox.start()
    config = Config()
    app = FreshfleetApp(
        lambda: sandbox.connect(config), poll_seconds=0.5, backend_label=LOCAL_LABEL
    )
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(
                pilot,
                lambda: "demo-web" in app.fleet_screen.table.visible_text(),
                within=120,
                what="the demo fleet",
            )
            assert sandbox.exit_reason() == ""
            handle = sandbox._started.result()
            os.killpg(handle.process.pid, signal.SIGKILL)
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
    finally:
        sandbox.stop()


async def test_quitting_mid_rollout_on_the_embedded_sandbox_says_nothing_is_left_to_resume(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("FRESHFLEET_ENDPOINT_FILE", str(tmp_path / "localaws.json"))
    sandbox = EmbeddedSandbox("simulated")
    sandbox.start()
    config = console_config(argparse.Namespace(config=None), None)
    app = FreshfleetApp(
        lambda: sandbox.connect(config), config=config, poll_seconds=0.5, backend_label=LOCAL_LABEL
    )
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(
                pilot,
                lambda: "demo-web  serving v1" in app.fleet_screen.table.visible_text(),
                within=120,
                what="the demo fleet",
            )
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
            assert app.screen.query_one("#stay").has_focus
            await pilot.press("tab", "enter")  # Quit, ending the sandbox
            await wait_for(pilot, lambda: app.return_code is not None, what="the console's exit")
    finally:
        sandbox.stop()
    assert sandbox.exit_reason() != ""  # stopped with the console, nothing left running
