"""`h`: the ledger of an app — who deployed what, when, how it ended, how long it took —
and how long each release's instances took to boot."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from console.cli.render_history import outcome_text, started_text
from console.palette import STATE_STYLE
from console.plain import text
from console.tui.widgets.fitted_footer import FittedFooter
from rollout.ledger.history import BootDurations
from rollout.ledger.rollout_item import RolloutItem

_BARS = "▁▂▃▄▅▆▇█"


class HistoryScreen(Screen[None]):
    """Rollouts newest first, then the boot-duration distribution per release."""

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back", id="history.back")]

    DEFAULT_CSS = """
    HistoryScreen #history-title { height: 1; text-style: bold; background: $panel; padding: 0 1; }
    HistoryScreen Static { padding: 0 1; }
    HistoryScreen .section { text-style: bold; padding-top: 1; }
    """

    def __init__(
        self, app_name: str, records: Sequence[RolloutItem], durations: BootDurations
    ) -> None:
        super().__init__()
        self.app_name = app_name
        self.records = records
        self.durations = durations

    def compose(self) -> ComposeResult:
        yield Static(text(f"history of {self.app_name}"), id="history-title")
        with VerticalScroll():
            yield Static(self._rollouts(), id="rollouts")
            yield Static("boot duration per release (launch → healthy)", classes="section")
            yield Static(self._boots(), id="boots")
        yield FittedFooter()

    def _rollouts(self) -> Table | str:
        if not self.records:
            return "no rollouts yet"
        table = Table(box=None, show_header=True, header_style="bold", expand=True)
        for column in ("rollout", "release", "strategy", "state", "who", "started", "took"):
            table.add_column(column, no_wrap=True)
        table.add_column("outcome")
        for r in sorted(self.records, key=lambda r: r.rollout_id, reverse=True):
            took = r.duration_seconds
            table.add_row(
                text(r.rollout_id, one_line=True),
                text(f"{r.from_release or '—'} → {r.to_release}", one_line=True),
                text(r.strategy, one_line=True),
                text((r.state, STATE_STYLE.get(r.state, "")), one_line=True),
                text(r.owner.split(":")[0], one_line=True),
                started_text(r),
                f"{took:.0f} s" if took is not None else "",
                outcome_text(r),
            )
        return table

    def _boots(self) -> Table | str:
        samples = self.durations.samples
        if not samples:
            return "no boots measured yet"
        table = Table(box=None, show_header=True, header_style="bold")
        for column in ("release", "boots", "median", "min", "max", "distribution"):
            table.add_column(column, no_wrap=True)
        for release, values in sorted(samples.items()):
            table.add_row(
                text(release, one_line=True),
                str(len(values)),
                f"{statistics.median(values):.1f} s",
                f"{min(values):.1f} s",
                f"{max(values):.1f} s",
                histogram(values),
            )
        return table


def histogram(values: Sequence[float], bins: int = 12) -> str:
    """A one-line histogram of `values` in block characters."""
    low, high = min(values), max(values)
    if high <= low:
        return _BARS[-1]
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - low) / (high - low) * bins))] += 1
    top = max(counts)
    return "".join(_BARS[round(c / top * (len(_BARS) - 1))] if c else " " for c in counts)
