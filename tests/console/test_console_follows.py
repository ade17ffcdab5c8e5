"""The panes that show an instance keep up with it: its console output line by line, its
boot phase, health and age as the polls bring them."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

from console_helpers import recorded_app, screen_text, wait_for
from textual.app import App, ComposeResult

from console.tui.fleet_source import RecordedSource
from console.tui.rollout_view import RolloutView
from console.tui.screens.instance import InstanceScreen
from console.tui.screens.rollout import RolloutScreen
from console.tui.widgets.console_tail import ConsoleTail
from rollout import events as ev
from rollout.model import (
    BootPhase,
    HealthState,
    InstanceState,
    InstanceView,
    Phase,
    PhaseStatus,
    TargetHealth,
)
from tests.fixtures.fleets import FROZEN_NOW, demo_snapshot

RID = "20261127-115800-c3d4"
NEW = f"demo-web-{RID}"
BASE = {"app": "demo-web", "rollout_id": RID}


class GrowingConsole:
    """An instance's console that a test writes to, as its boot agent would."""

    def __init__(self) -> None:
        self.text: dict[str, str] = {}
        self.fetches = 0

    def write(self, instance_id: str, line: str) -> None:
        self.text[instance_id] = self.text.get(instance_id, "") + line + "\n"

    async def __call__(self, instance_id: str) -> str:
        self.fetches += 1
        return self.text.get(instance_id, "")


def boot_line(phase: str, status: str, detail: str = "") -> str:
    return f"freshfleet-boot 2026-11-27T11:59:00Z {phase} {status} {detail}".rstrip()


def update(
    iid: str, phase: str, status: str, health: str = "", detail: str = ""
) -> ev.InstanceUpdate:
    return ev.InstanceUpdate(
        **BASE,
        at=FROZEN_NOW,
        instance=InstanceView(
            instance_id=iid,
            group=NEW,
            state=InstanceState.RUNNING,
            health=HealthState(health) if health else None,
            phase=Phase(phase),
            phase_status=PhaseStatus(status),
            detail=detail,
        ),
    )


async def test_the_rollout_pane_follows_the_slowest_instance_live_then_the_failing_one():
    console = GrowingConsole()
    queue: asyncio.Queue[ev.RolloutEvent | None] = asyncio.Queue()

    async def events() -> AsyncIterator[ev.RolloutEvent]:
        while (event := await queue.get()) is not None:
            yield event

    fast, slow = "i-0a1b2c3d4e5f60718", "i-1b2c3d4e5f6071829"
    app = recorded_app([demo_snapshot(with_rollout=True)])
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_for(pilot, lambda: app.fleet_screen.table.snapshot is not None)
        screen = RolloutScreen(
            RolloutView("demo-web", RID), events, clock=lambda: FROZEN_NOW, console_output=console
        )
        screen.FOLLOW_SECONDS = 0.05
        await app.push_screen(screen)
        pane = screen.query_one("#tail", ConsoleTail)
        pane.every = 0.05
        console.write(fast, boot_line("fetch", "start"))
        console.write(slow, boot_line("fetch", "start"))
        await queue.put(ev.StepStarted(**BASE, at=FROZEN_NOW, step="gate", detail="2 healthy"))
        await queue.put(update(slow, "build", "start"))
        await queue.put(update(fast, "run", "ok"))
        await wait_for(pilot, lambda: pane.instance_id == slow, what="the slowest followed")
        await wait_for(pilot, lambda: boot_line("fetch", "start") in pane.lines, what="its lines")

        # The agent goes on: the pane shows each new line as it comes, each on its own line.
        console.write(slow, boot_line("build", "start"))
        console.write(slow, boot_line("build", "ok"))
        console.write(slow, boot_line("run", "ok"))
        await wait_for(pilot, lambda: boot_line("run", "ok") in pane.lines, what="run ok")
        assert list(pane.lines).count(boot_line("build", "ok")) == 1
        assert f"console output of {slow} (slowest to boot)" in screen_text(app)

        # The other instance fails: the pane turns to it and shows why, live.
        console.write(fast, boot_line("health", "start"))
        await queue.put(update(fast, "health", "fail", detail="GET /health: 500"))
        await wait_for(pilot, lambda: pane.instance_id == fast, what="the failing one followed")
        console.write(fast, boot_line("health", "fail", "GET /health: 500"))
        await wait_for(
            pilot,
            lambda: boot_line("health", "fail", "GET /health: 500") in pane.lines,
            what="the failure's line",
        )
        assert f"console output of {fast} (failing)" in screen_text(app)
        await queue.put(None)


def _frames_until(flag: list[int]) -> RecordedSource:
    """Frame 0 (v2 booting) until the test moves `flag[0]` on, then frame 1 (healthy)."""
    first = demo_snapshot(with_rollout=True)
    booting = next(i for i in first.instances.values() if i.boot and i.boot.phase is Phase.BUILD)
    later = dict(first.instances)
    later[booting.instance_id] = replace(
        booting,
        health=TargetHealth(HealthState.HEALTHY),
        boot=BootPhase(Phase.HEALTH, PhaseStatus.OK, FROZEN_NOW, "deployed"),
    )
    second = replace(first, instances=later, taken_at=FROZEN_NOW + timedelta(seconds=5))
    return RecordedSource(lambda tick: second if flag[0] else first)


async def test_the_instance_screen_prints_each_line_whole_and_its_fields_follow_the_polls():
    console = GrowingConsole()
    flag = [0]
    source = _frames_until(flag)
    app = recorded_app(source)
    app.connect = _with_console(app.connect, console)
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_for(pilot, lambda: app.fleet_screen.table.snapshot is not None)
        snap = app.last_update.snapshot
        booting = next(i for i in snap.instances.values() if i.boot and i.boot.phase is Phase.BUILD)
        iid = booting.instance_id
        console.write(iid, boot_line("build", "start"))
        InstanceScreen.FOLLOW_SECONDS = 0.05
        try:
            app.open_instance(iid)
            await wait_for(
                pilot,
                lambda: isinstance(app.screen, InstanceScreen) and app.screen.query(ConsoleTail),
                what="the screen",
            )
            screen = app.screen
            pane = screen.query_one(ConsoleTail)
            await wait_for(pilot, lambda: boot_line("build", "start") in pane.lines, what="a line")
            assert "build start" in screen_text(app) and "initial" in screen_text(app)

            console.write(iid, boot_line("build", "ok"))
            console.write(iid, boot_line("run", "start"))
            await wait_for(pilot, lambda: boot_line("run", "start") in pane.lines, what="new lines")
            assert list(pane.lines)[-3:] == [
                boot_line("build", "start"),
                boot_line("build", "ok"),
                boot_line("run", "start"),
            ]

            flag[0] = 1  # the next polls see it healthy, its boot done
            await wait_for(
                pilot,
                lambda: "health ok — deployed" in screen_text(app),
                within=10,
                what="the details updated",
            )
            assert "healthy" in screen_text(app)
        finally:
            InstanceScreen.FOLLOW_SECONDS = 2.0


def _with_console(connect, console):
    async def wrapped():
        return replace(await connect(), console_output=console)

    return wrapped


async def test_a_follow_cancelled_before_it_starts_leaves_no_coroutine_unawaited():
    """A second `follow` in the same tick cancels the first worker before its task runs, and
    leaving the screen cancels the last one: neither may leave a coroutine never awaited."""
    console = GrowingConsole()

    class TailApp(App[None]):
        def compose(self) -> ComposeResult:
            yield ConsoleTail(console, every=0.05)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app = TailApp()
        async with app.run_test() as pilot:
            pane = app.query_one(ConsoleTail)
            pane.follow("i-0first00000000001")
            pane.follow("i-0second0000000002")  # the first worker never got to run
            await wait_for(pilot, lambda: console.fetches > 0, what="the second follow fetches")
            pane.follow("i-0third00000000003")  # and the app ends before this one runs
        del app, pane
        gc.collect()
    unawaited = [str(w.message) for w in caught if "never awaited" in str(w.message)]
    assert unawaited == []
