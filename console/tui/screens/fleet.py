"""The home screen: the live fleet of every app, its health and its mismatches."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Static

from console.plain import text
from console.tui.fleet_rows import RowKind
from console.tui.keymap import FLEET_ACTIONS, bindings
from console.tui.messages import FleetUpdated, PollStatus
from console.tui.widgets.backend_bar import BackendBar, ProductionBanner, StatusLine
from console.tui.widgets.fitted_footer import FittedFooter
from console.tui.widgets.fleet_table import FleetTable
from rollout.heap import freeze_heap

if TYPE_CHECKING:
    from console.tui.app import FreshfleetApp


# A fleet this big makes each full garbage collection walk a heap worth freezing: what lives
# once the first fleet is shown (Textual, the fleet) leaves later full collections, which at
# 5,000 instances walked the whole heap for 40-66 ms with a key press waiting behind each.
FREEZE_OVER = 1000


class FleetScreen(Screen[None]):
    """Apps → server groups → instances, refreshed by the app's poll."""

    BINDINGS = [
        *bindings(FLEET_ACTIONS),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="filter.clear"),
    ]

    DEFAULT_CSS = """
    FleetScreen #filter { display: none; height: 3; border: tall $accent; }
    FleetScreen #filter.-open { display: block; }
    FleetScreen #empty { height: 1fr; content-align: center middle; color: $text-muted; }
    FleetScreen.-has-fleet #empty { display: none; }
    FleetScreen #fleet { height: 1fr; }
    """

    @property
    def fleet_app(self) -> FreshfleetApp:
        return cast("FreshfleetApp", self.app)

    def compose(self) -> ComposeResult:
        yield BackendBar(self.fleet_app.clock)
        yield ProductionBanner()
        yield Static("starting…", id="empty")
        yield FleetTable(clock=self.fleet_app.clock, id="fleet")
        yield Input(placeholder="filter: text in any column, !text to invert", id="filter")
        yield StatusLine(id="selection")
        yield FittedFooter()

    @property
    def table(self) -> FleetTable:
        return self.query_one(FleetTable)

    @property
    def bar(self) -> BackendBar:
        return self.query_one(BackendBar)

    def on_mount(self) -> None:
        self.table.focus()
        self.set_interval(1.0, self.table.tick_ages)

    def show_waiting(self, message: str) -> None:
        """What the screen says before the first fleet arrives (e.g. starting the sandbox)."""
        self.query_one("#empty", Static).update(text(message))
        self.bar.status = message

    @on(FleetUpdated)
    def apply_update(self, message: FleetUpdated) -> None:
        first = self.table.snapshot is None
        self.add_class("-has-fleet")
        self.table.apply(message.update)
        if first and len(message.update.snapshot.instances) >= FREEZE_OVER:
            self.call_after_refresh(freeze_heap)  # once, after the first frame
        self._show_selection()
        self.bar.updated_at = self.fleet_app.clock()
        self.bar.error = ""
        self._show_count()

    @on(PollStatus)
    def poll_status(self, message: PollStatus) -> None:
        self.bar.error = message.error
        if message.error and not self.has_class("-has-fleet"):
            self.query_one("#empty", Static).update(text(f"⚠ {message.error}"))

    def _show_count(self) -> None:
        table = self.table
        if table.snapshot is None:
            return
        total = len(table.snapshot.instances)
        shown = table.shown_instances
        flt = table.row_filter
        if flt.active:
            how = f"filter {'!' if flt.invert else ''}{flt.needle}: {shown} of {total} instances"
        else:
            how = f"{total} instances"
        self.bar.note = f"{how}  sort {table.sort_column}{' ▼' if table.sort_reverse else ''}"

    @on(FleetTable.Highlighted)
    def _show_selection(self) -> None:
        table = self.table
        key = table.cursor_key
        line = ""
        snap = table.snapshot
        if key is not None and snap is not None:
            row = table.rows[key]
            inst = snap.instances.get(key) if row.kind is RowKind.INSTANCE else None
            if inst is not None and inst.health is not None and inst.health.description:
                line = f"{inst.instance_id}: {inst.health.description}"
            elif inst is not None and inst.boot is not None and inst.boot.detail:
                line = f"{inst.instance_id}: {inst.boot.phase.value} {inst.boot.detail}"
        self.query_one("#selection", StatusLine).text = line

    @on(FleetTable.Opened)
    def _open(self, message: FleetTable.Opened) -> None:
        self.fleet_app.open_instance(message.instance_id)

    # --- actions ----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.fleet_app.check_action(action, parameters)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-open")
        box.focus()

    def action_open(self) -> None:
        self.table.open_cursor()

    def action_logs(self) -> None:
        self.table.open_cursor()

    def selected_app(self) -> str:
        """The app of the row under the cursor (or the only app)."""
        key = self.table.cursor_key
        if key is not None:
            return self.table.rows[key].app
        snap = self.table.snapshot
        return snap.apps[0].name if snap is not None and snap.apps else ""

    def action_history(self) -> None:
        self.fleet_app.start_history(self.selected_app())

    def action_deploy(self) -> None:
        self.fleet_app.start_deploy(self.selected_app(), "blue-green")

    def action_canary(self) -> None:
        self.fleet_app.start_deploy(self.selected_app(), "canary")

    def action_rollback(self) -> None:
        self.fleet_app.start_rollback(self.selected_app())

    def action_abort(self) -> None:
        self.fleet_app.start_abort(self.selected_app())

    def action_sort(self) -> None:
        self.table.cycle_sort()
        self._show_count()

    def action_sort_reverse(self) -> None:
        self.table.sort_by(self.table.sort_column, reverse=not self.table.sort_reverse)
        self._show_count()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.table.set_filter(event.value)
        self._show_count()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one("#filter", Input).remove_class("-open")
        self.table.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_class("-open") or self.table.row_filter.active:
            box.value = ""
            box.remove_class("-open")
            self.table.set_filter("")
            self._show_count()
            self.table.focus()
