"""`enter` on an instance: its three views in full, and the tail of its console output."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from rich.table import Table
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Static

from console.plain import text
from console.tui.fleet_rows import age_text, boot_text, health_text
from console.tui.widgets.console_tail import ConsoleOutput, ConsoleTail
from console.tui.widgets.fitted_footer import FittedFooter
from rollout.model import FleetSnapshot, Instance, ServerGroup

__all__ = ["ConsoleOutput", "InstanceScreen"]


class InstanceScreen(Screen[None]):
    """Details of one instance and its console output (fetched by a worker, never blocking).

    The details follow the fleet's polls (`snapshot()` gives the latest) and the output
    follows the instance's console, a line at a time.
    """

    BINDINGS = [
        Binding("escape,q", "back", "Back", id="instance.back"),
        Binding("R", "reload", "Reload output", id="instance.reload"),
        Binding("slash", "search", "Search", id="instance.search", key_display="/"),
        Binding("n", "next_match", "Next match", id="instance.next"),
    ]

    DEFAULT_CSS = """
    InstanceScreen #details { height: auto; padding: 0 1; border-bottom: solid $panel; }
    InstanceScreen #console-title { height: 1; padding: 0 1; text-style: bold; }
    InstanceScreen ConsoleTail { height: 1fr; }
    InstanceScreen #search { display: none; height: 3; }
    InstanceScreen #search.-open { display: block; }
    """

    def __init__(
        self,
        instance: Instance,
        group: ServerGroup | None,
        *,
        now: datetime | None = None,
        console_output: ConsoleOutput | None,
        clock: Callable[[], datetime] | None = None,
        snapshot: Callable[[], FleetSnapshot | None] | None = None,
    ) -> None:
        super().__init__()
        self.instance = instance
        self.group = group
        frozen = now or datetime.now(UTC)
        self.clock = clock or (lambda: frozen)
        self.snapshot = snapshot
        self.console_output = console_output

    def compose(self) -> ComposeResult:
        yield Static(self._details(), id="details")
        yield Static(text(f"console output of {self.instance.instance_id}"), id="console-title")
        yield ConsoleTail(self.console_output, every=self.FOLLOW_SECONDS, id="console")
        yield Input(placeholder="search the console output", id="search")
        yield FittedFooter()

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
            ("age", age_text(i.launched_at, self.clock())),
        ]
        for k, v in rows:
            t.add_row(k, text(v))
        return t

    FOLLOW_SECONDS = 2.0

    def action_back(self) -> None:
        box = self.query_one("#search", Input)
        if box.has_class("-open"):
            box.remove_class("-open")
            self.query_one(ConsoleTail).focus()
            return
        self.app.pop_screen()

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.add_class("-open")
        box.focus()

    @on(Input.Submitted, "#search")
    def _search(self, event: Input.Submitted) -> None:
        self._needle = event.value.strip().lower()
        self._match = -1
        self.query_one("#search", Input).remove_class("-open")
        self.query_one(ConsoleTail).focus()
        self.action_next_match()

    def action_next_match(self) -> None:
        """Scroll to the next line containing the search text (wrapping at the end)."""
        needle = getattr(self, "_needle", "")
        if not needle:
            return
        log = self.query_one(ConsoleTail)
        lines = log.lines
        hits = [n for n, line in enumerate(lines) if needle in line.lower()]
        title = self.query_one("#console-title", Static)
        if not hits:
            title.update(
                text(f"console output of {self.instance.instance_id} — no match for {needle!r}")
            )
            return
        after = [n for n in hits if n > self._match]
        self._match = after[0] if after else hits[0]
        log.scroll_to(y=max(0, self._match - 2), animate=False)
        title.update(
            text(
                f"console output of {self.instance.instance_id} — {needle!r}: line "
                f"{self._match + 1} ({hits.index(self._match) + 1} of {len(hits)})"
            )
        )

    def on_mount(self) -> None:
        self.action_reload()
        self.set_interval(1.0, self.refresh_details)

    def refresh_details(self) -> None:
        """Redraw the details from the latest poll (phase, health, age move on)."""
        snap = self.snapshot() if self.snapshot else None
        if snap is not None:
            found = snap.instances.get(self.instance.instance_id)
            if found is not None:
                self.instance = found
                self.group = next(
                    (g for a in snap.apps for g in a.groups if g.name == found.group), self.group
                )
        self.query_one("#details", Static).update(self._details())

    def action_reload(self) -> None:
        """Fetch the output again and go on following it (after a failed fetch, too)."""
        self.query_one(ConsoleTail).follow(self.instance.instance_id)
