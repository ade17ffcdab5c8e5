"""Console test helpers: an app over a recorded fleet, and waiting on what the screen shows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from textual.widgets import OptionList

from console.tui.app import Connection, FreshfleetApp
from console.tui.fleet_source import RecordedSource
from console.tui.screens.dialogs import Confirm, ReleasePicker
from console.tui.screens.rollout import RolloutScreen
from localaws.process import LocalAws
from rollout.aws.backend import Backend
from rollout.config import Config
from rollout.model import FleetSnapshot
from tests.fixtures.fleets import FROZEN_NOW


def console_on(localaws: LocalAws, **kwargs: Any) -> FreshfleetApp:
    """The console on a running localaws (simulated boots), polling fast."""
    from console.backend_choice import connect_live

    backend = Backend(
        endpoint_url=localaws.url, region=localaws.region, local=True, boot_mode="simulated"
    )
    return FreshfleetApp(
        lambda: connect_live(backend, Config()),
        poll_seconds=0.25,
        backend_label=backend.label,
        **kwargs,
    )


def recorded_app(
    frames: Sequence[FleetSnapshot] | RecordedSource,
    *,
    config: Config | None = None,
    read_only: bool = False,
    allow_deploy: bool = False,
    account: str = "",
    label: str = "LOCAL SANDBOX",
    poll_seconds: float = 0.05,
) -> FreshfleetApp:
    """The console over a recorded fleet with the clock frozen, polling fast."""
    source = frames if isinstance(frames, RecordedSource) else RecordedSource(frames)

    async def connect() -> Connection:
        return Connection(label, source, account=account, console_output=canned_output)

    return FreshfleetApp(
        connect,
        config=config,
        read_only=read_only,
        allow_deploy=allow_deploy,
        clock=lambda: FROZEN_NOW,
        poll_seconds=poll_seconds,
    )


async def canned_output(instance_id: str) -> str:
    return (
        f"[    0.000000] Linux version 6.1.0 ({instance_id})\n"
        "freshfleet-boot 2026-11-27T11:58:40Z fetch start\n"
        "freshfleet-boot 2026-11-27T11:58:41Z fetch ok\n"
        "freshfleet-boot 2026-11-27T11:58:50Z health ok\n"
    )


async def wait_for(
    pilot: object, condition: Callable[[], object], *, within: float = 10.0, what: str = ""
) -> None:
    """Let the app run until `condition()` holds, or fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.02)


def screen_text(app: FreshfleetApp) -> str:
    """Everything on screen as plain text lines, read back from the app's own screenshot."""
    import html
    import re

    svg = app.export_screenshot()
    lines: dict[float, list[tuple[float, str]]] = {}
    for x, y, text in re.findall(r'<text[^>]*?x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        lines.setdefault(float(y), []).append((float(x), html.unescape(text).replace("\xa0", " ")))
    return "\n".join(
        "".join(t for _, t in sorted(parts)).rstrip() for _, parts in sorted(lines.items())
    )


async def pick_release(app: FreshfleetApp, pilot: Any, version: str) -> None:
    """In the release picker once drawn, move to `version` and choose it."""
    await wait_for(
        pilot,
        lambda: isinstance(app.screen, ReleasePicker) and app.screen.query(OptionList),
        what="the picker",
    )
    options = app.screen.query_one(OptionList)
    index = next(
        n for n in range(options.option_count) if options.get_option_at_index(n).id == version
    )
    for _ in range(index):
        await pilot.press("down")
    await pilot.press("enter")


async def deploy_by_keys(app: FreshfleetApp, pilot: Any, version: str) -> RolloutScreen:
    """d, pick the release, read the plan, move to the Deploy button and press it."""
    await pilot.press("d")
    await pick_release(app, pilot, version)
    await wait_for(pilot, lambda: isinstance(app.screen, Confirm), within=30, what="the plan")
    await pilot.press("tab", "enter")
    await wait_for(pilot, lambda: isinstance(app.screen, RolloutScreen), what="the rollout")
    screen = app.screen
    assert isinstance(screen, RolloutScreen)
    return screen
