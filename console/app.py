"""The Textual app: connects to a fleet source, polls it, and hosts the screens.

Every blocking thing is a named worker (`group=`, `exit_on_error=False`); one
`Worker.StateChanged` handler turns their failures into visible errors. The poll is one
worker at a time, re-armed by a timer when it finishes, so a slow AWS never stacks polls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from console.fleet_source import FleetSource, FleetUpdate
from console.keymap import APP_ACTIONS, MUTATING_ACTIONS, bindings
from console.messages import FleetUpdated, PollStatus
from console.screens.fleet import FleetScreen
from console.screens.help import HelpScreen
from console.screens.instance import ConsoleOutput, InstanceScreen
from console.widgets.backend_bar import ProductionBanner
from rollout.config import Config

POLL_GROUP = "fleet-poll"


@dataclass
class Connection:
    """What a connect step yields: where we are and the fleet source to poll there."""

    backend_label: str
    source: FleetSource
    account: str = ""
    console_output: ConsoleOutput | None = None
    close: Callable[[], Awaitable[None]] | None = None


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
        self._quitting = False
        # Held directly: workers may finish while Textual is tearing the screens down.
        self._fleet = FleetScreen()
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
        self.run_worker(
            self.connect(), group="connect", description=self.connecting, exit_on_error=False
        )

    def _connected(self, connection: Connection) -> None:
        self.connection = connection
        bar = self.fleet_screen.bar
        bar.backend = connection.backend_label
        if connection.account and connection.account in self.config.production_accounts:
            self.production = True
            if not self.allow_deploy:
                self.read_only = True
            self.fleet_screen.query_one(ProductionBanner).show(connection.account, self.read_only)
        bar.read_only = self.read_only
        self.fleet_screen.show_waiting("loading the fleet…")
        self.refresh_bindings()
        self.poll()

    def poll(self) -> None:
        """Start one poll; the next is armed when this one finishes (never two at once)."""
        if self.connection is None or self._quitting:
            return
        source = self.connection.source
        # The callable, not a coroutine: a poll cancelled before it starts leaves no warning.
        poll: Callable[[], Awaitable[FleetUpdate]] = source.poll
        self.run_worker(
            poll,
            group=POLL_GROUP,
            description="poll the fleet",
            exit_on_error=False,
        )

    def _arm_next_poll(self) -> None:
        if not self._quitting:
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
                self.notify(message, severity="error", timeout=30)
        elif event.state is WorkerState.ERROR and worker.error is not None:
            self.notify(
                f"{worker.description}: {error_text(worker.error)}", severity="error", timeout=15
            )

    async def action_quit(self) -> None:
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
        self.push_screen(InstanceScreen(inst, group, now=self.clock(), console_output=output))

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
