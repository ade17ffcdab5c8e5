"""`enter` on an instance: its three views in full, and the tail of its console output."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Log, Static

from console.fleet_rows import age_text, boot_text, health_text
from rollout.model import Instance, ServerGroup

ConsoleOutput = Callable[[str], Awaitable[str]]


class InstanceScreen(Screen[None]):
    """Details of one instance and its console output (fetched by a worker, never blocking)."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="instance.back"),
        Binding("R", "reload", "Reload output", id="instance.reload"),
    ]

    DEFAULT_CSS = """
    InstanceScreen #details { height: auto; padding: 0 1; border-bottom: solid $panel; }
    InstanceScreen #console-title { height: 1; padding: 0 1; text-style: bold; }
    InstanceScreen Log { height: 1fr; }
    """

    def __init__(
        self,
        instance: Instance,
        group: ServerGroup | None,
        *,
        now: datetime,
        console_output: ConsoleOutput | None,
    ) -> None:
        super().__init__()
        self.instance = instance
        self.group = group
        self.now = now
        self.console_output = console_output

    def compose(self) -> ComposeResult:
        yield Static(self._details(), id="details")
        yield Static(f"console output of {self.instance.instance_id}", id="console-title")
        yield Log(id="console", highlight=False)
        yield Footer()

    def _details(self) -> Table:
        i = self.instance
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold", no_wrap=True)
        t.add_column()
        health = health_text(i)
        if i.health is not None and i.health.description:
            health += f" — {i.health.description}"
        boot = boot_text(i)
        if i.boot is not None and i.boot.detail:
            boot += f" — {i.boot.detail}"
        rows = [
            ("instance", i.instance_id),
            ("app", i.app),
            ("EC2 state", i.state.value),
            ("target health", health),
            ("release (tags)", i.release),
            ("boot phase", boot or "no report yet"),
            (
                "server group",
                f"{i.group}  ({self.group.role.value}, weight {self.group.weight})"
                if self.group
                else i.group,
            ),
            ("rollout", i.rollout_id),
            ("zone / type", f"{i.az}  {i.instance_type}"),
            ("private ip", i.private_ip),
            ("age", age_text(i.launched_at, self.now)),
        ]
        for k, v in rows:
            t.add_row(k, v)
        return t

    FOLLOW_SECONDS = 2.0

    def on_mount(self) -> None:
        self._shown = ""
        self.action_reload()

    def action_reload(self) -> None:
        log = self.query_one(Log)
        if self.console_output is None:
            log.write_line("(console output is not available from this source)")
            return
        if not self._shown:
            log.write_line("fetching console output…")
        self.run_worker(
            self._fetch(),
            group="console-output",
            description=f"console output of {self.instance.instance_id}",
            exit_on_error=False,
        )

    async def _fetch(self) -> None:
        """Show the output, appending only what is new; then follow it (one fetch at a time,
        the next armed when this one ends)."""
        assert self.console_output is not None
        text = await self.console_output(self.instance.instance_id)
        log = self.query_one(Log)
        if self._shown and text.startswith(self._shown):
            new = text[len(self._shown) :]
            if new:
                log.write(new)
        else:
            log.clear()
            log.write_lines(text.splitlines() or ["(no console output yet)"])
        self._shown = text
        # A failed fetch is shown once (by the app) and not retried until `R`.
        if self.is_mounted:
            self.set_timer(self.FOLLOW_SECONDS, self.action_reload)
