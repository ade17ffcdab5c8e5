"""The embedded sandbox dying mid-session is said at once, not after a poll's retries."""

from __future__ import annotations

import os
import signal

from console_helpers import screen_text, wait_for

from console.app import POLL_GROUP, FreshfleetApp
from console.launch import EmbeddedSandbox
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
