"""The Textual app: connects to a fleet source, polls it, and hosts the screens.

Every blocking thing is a named worker (`group=`, `exit_on_error=False`); one
`Worker.StateChanged` handler turns their failures into visible errors. The poll is one
worker at a time, re-armed by a timer when it finishes, so a slow AWS never stacks polls.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from console.plain import plain
from console.tui.fleet_source import FleetSource, FleetUpdate
from console.tui.keymap import APP_ACTIONS, MUTATING_ACTIONS, bindings
from console.tui.messages import FleetUpdated, PollStatus
from console.tui.questions import ConsoleAnswers
from console.tui.rollout_view import RolloutView, summarise
from console.tui.screens.dialogs import ReleasePicker, StayOrDetach
from console.tui.screens.fleet import FleetScreen
from console.tui.screens.help import HelpScreen
from console.tui.screens.history import HistoryScreen
from console.tui.screens.instance import ConsoleOutput, InstanceScreen
from console.tui.screens.rollout import RolloutScreen
from console.tui.widgets.backend_bar import ProductionBanner
from rollout.config import Config
from rollout.operations import Face

POLL_GROUP = "fleet-poll"
ROLLOUT_GROUP = "rollout"


@dataclass
class Connection:
    """What a connect step yields: where we are and the fleet source to poll there."""

    backend_label: str
    source: FleetSource
    account: str = ""
    console_output: ConsoleOutput | None = None
    close: Callable[[], Awaitable[None]] | None = None
    gateway: Any = None  # the engine's Gateway; None for a recorded fleet (nothing to change)
    # Why the backend is gone for good ("" while it lives): the embedded sandbox's exit, seen
    # at once rather than after a poll's retries run out.
    gone: Callable[[], str] | None = None
    embedded: bool = False  # the console's own local sandbox: it ends when the console quits
    boots: str = ""  # a localaws's instance runtime: "real boots" or "simulated boots: why"


Connect = Callable[[], Awaitable[Connection]]


def error_text(error: BaseException) -> str:
    """The error as a person should read it: AWS's code and message, or the exception."""
    code = getattr(error, "code", "")
    text = str(error) or type(error).__name__
    return f"{code}: {text}" if code and code not in text else text


class FreshfleetApp(App[int]):
    """The console. `connect` is awaited in a worker; its source is polled until quit."""

    TITLE = "freshfleet"
    CSS_PATH = Path(__file__).parent / "app.tcss"
    BINDINGS = bindings(APP_ACTIONS)

    def __init__(
        self,
        connect: Connect,
        *,
        config: Config | None = None,
        read_only: bool = False,
        allow_deploy: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        connecting: str = "connecting…",
        backend_label: str = "",
        poll_seconds: float | None = None,
    ) -> None:
        super().__init__()
        self.config = config or Config()
        self.connect = connect
        self.read_only = read_only
        self.allow_deploy = allow_deploy
        self.production = False
        self.clock = clock
        self.connecting = connecting
        self.backend_label = backend_label
        self.poll_seconds = (
            poll_seconds if poll_seconds is not None else self.config.rollout.poll_seconds
        )
        self.connection: Connection | None = None
        self.last_update: FleetUpdate | None = None
        self.poll_error = ""
        self._poll_timer: Timer | None = None
        self._gone_timer: Timer | None = None
        self._gone = ""  # the backend is gone for good: why (no more polls)
        self._quitting = False
        # Held directly: workers may finish while Textual is tearing the screens down.
        self._fleet = FleetScreen()
        self.rollout: Any = None  # the Rollout this console runs, while it runs
        # Unfinished rollouts already offered to resume or undo: (app, rollout id).
        self._offered: set[tuple[str, str]] = set()
        if self.config.theme:
            self.theme = self.config.theme

    # --- lifecycle --------------------------------------------------------------------

    @property
    def fleet_screen(self) -> FleetScreen:
        return self._fleet

    async def on_mount(self) -> None:
        if self.config.keymap:
            self.set_keymap(dict(self.config.keymap))
        self.install_screen(self._fleet, "fleet")
        await self.push_screen("fleet")
        self.fleet_screen.show_waiting(self.connecting)
        self.fleet_screen.bar.read_only = self.read_only
        if self.backend_label:
            self.fleet_screen.bar.backend = self.backend_label
        self._work(self._connect, "connect", self.connecting)

    async def _connect(self) -> Connection:
        # A coroutine function for the worker: `connect` may be any callable (a lambda).
        return await self.connect()

    def _connected(self, connection: Connection) -> None:
        self.connection = connection
        bar = self.fleet_screen.bar
        bar.backend = connection.backend_label
        bar.boots = connection.boots
        if connection.account and connection.account in self.config.production_accounts:
            self.production = True
            if not self.allow_deploy:
                self.read_only = True
            self.fleet_screen.query_one(ProductionBanner).show(connection.account, self.read_only)
        bar.read_only = self.read_only
        self.fleet_screen.show_waiting("loading the fleet…")
        self.refresh_bindings()
        if connection.gone is not None:
            self._gone_timer = self.set_interval(1.0, self._check_gone)
        self.poll()

    def _check_gone(self) -> None:
        """Once the backend is gone for good, stop polling and say why (no retries to wait)."""
        gone = self.connection.gone if self.connection else None
        reason = gone() if gone else ""
        if not reason or self._quitting or self._gone:
            return
        self._gone = reason  # no poll is armed again
        if self._gone_timer is not None:
            self._gone_timer.stop()
        self.workers.cancel_group(self, POLL_GROUP)
        self.poll_error = reason
        self.fleet_screen.post_message(PollStatus(reason))
        self.say(f"{reason}: restart freshfleet", severity="error", timeout=60)

    def _work(self, work: Callable[[], Awaitable[Any]], group: str, description: str) -> None:
        """Run `work` (a callable that makes a coroutine: the worker makes it only when it
        runs, so one cancelled before it starts leaves no coroutine unawaited) as a named
        worker of `group`: its result and its failure land in `on_worker_state_changed`, a
        failure never ends the app."""
        self.run_worker(work, group=group, description=description, exit_on_error=False)

    def poll(self) -> None:
        """Start one poll; the next is armed when this one finishes (never two at once)."""
        if self.connection is None or self._quitting or self._gone:
            return
        source = self.connection.source
        self._work(source.poll, POLL_GROUP, "poll the fleet")

    def _arm_next_poll(self) -> None:
        if not self._quitting and not self._gone:
            self._poll_timer = self.set_timer(self.poll_seconds, self.poll)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker results and failures land (failures become visible)."""
        worker = event.worker
        if worker.group == POLL_GROUP:
            if event.state is WorkerState.SUCCESS:
                update = worker.result
                assert isinstance(update, FleetUpdate)
                self.last_update = update
                self.poll_error = ""
                unowned = self._unowned_rollouts(update)
                if unowned:
                    self._work(
                        partial(self._offer_unfinished, unowned),
                        ROLLOUT_GROUP,
                        "look for unfinished rollouts",
                    )
                self.fleet_screen.post_message(FleetUpdated(update))
                self._arm_next_poll()
            elif event.state is WorkerState.ERROR:
                assert worker.error is not None
                self.poll_error = error_text(worker.error)
                self.fleet_screen.post_message(PollStatus(self.poll_error))
                self._arm_next_poll()
        elif worker.group == "connect":
            if event.state is WorkerState.SUCCESS:
                assert isinstance(worker.result, Connection)
                self._connected(worker.result)
            elif event.state is WorkerState.ERROR:
                assert worker.error is not None
                message = f"could not connect: {error_text(worker.error)}"
                self.fleet_screen.show_waiting(f"⚠ {message}")
                self.say(message, severity="error", timeout=30)
        elif event.state is WorkerState.ERROR and worker.error is not None:
            self.say(
                f"{worker.description}: {error_text(worker.error)}", severity="error", timeout=15
            )

    async def action_quit(self) -> None:
        rollout = self.rollout
        if rollout is not None:
            embedded = self.connection is not None and self.connection.embedded
            self.push_screen(
                StayOrDetach(rollout.app, rollout.rollout_id, embedded=embedded),
                self._quit_answer,
            )
            return
        await self.shutdown()
        self.exit(0)

    async def _quit_answer(self, answer: str | None) -> None:
        rollout = self.rollout
        if answer != "detach":
            return
        if rollout is not None:
            # Detached, the rollout stops where it stands and waits for `resume`.
            rollout.detach()
            for worker in self.workers.cancel_group(self, ROLLOUT_GROUP):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(worker.wait(), 15)
        self.rollout = None
        await self.shutdown()
        self.exit(0)

    async def on_unmount(self) -> None:
        await self.shutdown()

    async def shutdown(self) -> None:
        """Stop polling and close the connection's clients (the sandbox stops in launch)."""
        self._quitting = True
        if self._poll_timer is not None:
            self._poll_timer.stop()
        self.workers.cancel_group(self, POLL_GROUP)
        connection, self.connection = self.connection, None
        if connection is not None:
            await connection.source.aclose()
            if connection.close is not None:
                await connection.close()

    def say(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
    ) -> None:
        """A notification of plain text: what it quotes from AWS or the ledger (a lock's
        message, a failure's reason) shows as written, never as markup or an escape."""
        self.notify(
            plain(message), title=plain(title), severity=severity, timeout=timeout, markup=False
        )

    # --- actions ----------------------------------------------------------------------

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.screen))

    def open_instance(self, instance_id: str) -> None:
        update = self.last_update
        if update is None or instance_id not in update.snapshot.instances:
            return
        inst = update.snapshot.instances[instance_id]
        group = next(
            (g for a in update.snapshot.apps for g in a.groups if g.name == inst.group), None
        )
        output = self.connection.console_output if self.connection else None
        self.push_screen(
            InstanceScreen(
                inst,
                group,
                console_output=output,
                clock=self.clock,
                snapshot=lambda: self.last_update.snapshot if self.last_update else None,
            )
        )

    # --- rollouts (issue: deploy, canary, rollback, abort by keys) ----------------------

    @property
    def _gateway(self) -> Any:
        """The open fleet's gateway; None before it connects and for a recording."""
        return self.connection.gateway if self.connection else None

    def _engine(self) -> Any:
        gateway = self._gateway
        if gateway is None:
            self.say("this fleet is a recording: there is nothing to change", severity="warning")
        return gateway

    def start_deploy(self, app_name: str, strategy: str) -> None:
        """`d`/`c`: pick a release, show the plan, confirm, run and watch the rollout."""
        if not app_name or self._engine() is None:
            return
        if self.rollout is not None:
            self.say(f"a rollout of {self.rollout.app} is already running", severity="warning")
            return
        self._work(partial(self._deploy, app_name, strategy), ROLLOUT_GROUP, f"deploy {app_name}")

    async def _deploy(self, app_name: str, strategy: str) -> None:
        from rollout import operations
        from rollout.deploy import DeployRequest
        from rollout.ledger.releases import list_releases

        gw = self._gateway
        releases = await list_releases(gw, self.config.tables, app_name)
        if not releases:
            self.say(f"{app_name} has no releases: `freshfleet release add`", severity="error")
            return
        snap = self.last_update.snapshot if self.last_update else None
        found = snap.app(app_name) if snap else None
        serving = found.serving_release if found else ""
        what = "Canary" if strategy == "canary" else "Deploy"
        version = await self.push_screen_wait(ReleasePicker(app_name, releases, serving, what))
        if version is None:
            return
        with self._refusals(), self._face(ConsoleAnswers(self)) as face:
            request = DeployRequest(app_name, version, strategy=strategy)
            outcome = await operations.deploy(gw, self.config, request, face)
            self._say_outcome(outcome)

    @contextlib.contextmanager
    def _face(self, answers: ConsoleAnswers) -> Iterator[Face]:
        """The console as the face of an operation started here (`operations.Face`): its
        questions answered by `answers`, " from the console" on the lock's message, and
        the rollout it runs becomes this console's (quitting asks, and detaches it) and
        its screen opens; once the operation ends, the console runs none again."""
        started: list[Any] = []

        def on_start(rollout: Any) -> None:
            started.append(rollout)
            self.rollout = rollout
            view = RolloutView(rollout.app, rollout.rollout_id)
            output = self.connection.console_output if self.connection else None
            self.push_screen(RolloutScreen(view, rollout.events, console_output=output))

        try:
            yield Face(answers, via=" from the console", on_start=on_start)
        finally:
            if started:
                self.rollout = None

    @contextlib.contextmanager
    def _refusals(self) -> Iterator[None]:
        """The lock's refusals, said: someone else holds it (who, since when and why), or
        another process took it over mid-way; nothing more is changed."""
        from rollout.errors import LeaseLost
        from rollout.ledger.lease import LockHeld

        try:
            yield
        except LockHeld as held:
            self.say(str(held), title="refused: lock held", severity="error", timeout=20)
        except LeaseLost as lost:
            self.say(lost.reason, title="stopped: lock lost", severity="error", timeout=20)

    def _say_outcome(self, outcome: Any) -> None:
        """What an operation did, in one notification (nothing when it was refused)."""
        from rollout.operations import Act

        if outcome.act is Act.FLIP:
            group = outcome.options.flip_back.group if outcome.options else ""
            self.say(f"rollback of {outcome.rollout_id} requested: traffic flips back to {group}")
        elif outcome.act is Act.ABORT and outcome.request is not None:
            self.say(f"abort of {outcome.rollout_id} requested")
        elif outcome.act in (Act.DEPLOY, Act.FRESH):
            result = outcome.result
            reason = f": {summarise(result.reason)}" if result.reason else ""
            self.say(
                f"{outcome.app} {outcome.plan.release.version}: {result.state}{reason}",
                severity="information" if result.ok else "error",
                timeout=15,
            )
        elif outcome.result is not None:  # taken over: resumed or undone
            self.say(f"{outcome.app} {outcome.rollout_id}: {outcome.result.state}", timeout=15)

    def _unowned_rollouts(self, update: FleetUpdate) -> list[Any]:
        """Apps whose unfinished rollout nobody holds the lock for (detached, or its owner
        dead), each offered once whenever the console first sees it; `r` and `a` offer
        it again."""
        if self.connection is None or self.connection.gateway is None or self.read_only:
            return []
        if self.rollout is not None:
            return []
        apps = [
            a
            for a in update.snapshot.apps
            if a.active_rollout_id
            and a.lock is None
            and (a.name, a.active_rollout_id) not in self._offered
        ]
        self._offered |= {(a.name, a.active_rollout_id) for a in apps}
        return apps

    async def _offer_unfinished(self, apps: Iterable[Any]) -> bool:
        """A rollout left by a detached or dead owner is offered to resume, roll back or
        abort (when the console sees it, and on `a`; `r` offers it through the rollback);
        True when one was offered."""
        offered = False
        for app in apps:
            if self.rollout is not None:
                continue
            shown, acted = await self._offer(app.name)
            offered = offered or shown
            if acted:
                return True
        return offered

    async def _offer(self, app_name: str) -> tuple[bool, bool]:
        """The offer of the app's unfinished rollout nothing runs, if it has one, and what
        was picked, done (`operations.offer_takeover`): (offered, something was done)."""
        from rollout import operations

        gw = self._gateway
        answers = ConsoleAnswers(self)
        with self._refusals(), self._face(answers) as face:
            outcome = await operations.offer_takeover(gw, self.config, app_name, face)
            if outcome is not None:
                self._say_outcome(outcome)
        return answers.offered, answers.taken is not None

    def start_rollback(self, app_name: str) -> None:
        """`r`: an unfinished rollout nothing runs is offered first; else the ways back
        with estimates (flip back to the retained group, or a fresh deploy of an earlier
        release); the chosen one runs after its confirmation (`operations.rollback`)."""
        if not app_name or self._engine() is None:
            return
        self._work(partial(self._rollback, app_name), ROLLOUT_GROUP, f"roll back {app_name}")

    async def _rollback(self, app_name: str) -> None:
        from rollout import operations
        from rollout.deploy import RolloutInputError
        from rollout.operations import Act

        gw = self._gateway
        snap = self.last_update.snapshot if self.last_update else None
        found = snap.app(app_name) if snap else None
        answers = ConsoleAnswers(self)
        with self._refusals(), self._face(answers) as face:
            try:
                outcome = await operations.rollback(
                    gw,
                    self.config,
                    app_name,
                    face,
                    serving=found.serving_release if found else "",
                )
            except RolloutInputError as exc:
                chosen = answers.chosen
                if chosen is None:
                    raise
                if chosen.act is Act.FLIP:
                    self.say(str(exc), title="cannot flip back", severity="error", timeout=15)
                else:
                    self.say(
                        f"roll back {app_name} to {chosen.release}: {error_text(exc)}",
                        severity="error",
                        timeout=15,
                    )
                return
            self._say_outcome(outcome)

    def start_abort(self, app_name: str) -> None:
        """`a`: ask the app's running rollout to stop (before the shift nothing changed); an
        unfinished rollout nothing runs is offered instead."""
        if not app_name or self._engine() is None:
            return
        self._work(partial(self._abort, app_name), ROLLOUT_GROUP, f"abort {app_name}")

    async def _abort(self, app_name: str) -> None:
        from rollout import operations

        if self.rollout is None and (await self._offer(app_name))[0]:
            return  # nothing runs it: resume, roll back or abort it here
        gw = self._gateway
        outcome = await operations.abort(gw, self.config, app_name, Face(ConsoleAnswers(self)))
        self._say_outcome(outcome)

    def start_history(self, app_name: str) -> None:
        """`h`: the app's rollouts from the ledger and its boot durations."""
        if not app_name or self._engine() is None:
            return
        self._work(partial(self._history, app_name), "history", f"history of {app_name}")

    async def _history(self, app_name: str) -> None:
        from rollout import operations

        gw = self._gateway
        found = await operations.history(gw, self.config, app_name, boots=True)
        assert found.boots is not None
        await self.push_screen(HistoryScreen(app_name, found.rollouts, found.boots))

    def action_deploy(self) -> None:
        self.start_deploy(self.fleet_screen.selected_app(), "blue-green")

    def action_rollback(self) -> None:
        self.start_rollback(self.rollout.app if self.rollout else self.fleet_screen.selected_app())

    def action_abort(self) -> None:
        self.start_abort(self.rollout.app if self.rollout else self.fleet_screen.selected_app())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Read-only removes every mutating action: from keys, footer, help and palette."""
        return not (self.read_only and action in MUTATING_ACTIONS)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The palette: every action of the screen's bindings, then Textual's own."""
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            b = active.binding
            if not b.description or not active.enabled or b.action in seen:
                continue
            if self.read_only and b.action in MUTATING_ACTIONS:
                continue
            seen.add(b.action)
            node = active.node

            async def run(action: str = b.action, node: object = node) -> None:
                await self.run_action(action, node)  # type: ignore[arg-type]

            yield SystemCommand(b.description, b.tooltip or b.description, run)
        yield from super().get_system_commands(screen)
