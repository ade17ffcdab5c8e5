"""`h`: the ledger of an app — who deployed what, when, how it ended, how long it took —
and how long each release's instances took to boot."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from console.cli.render_history import HISTORY_HEADERS, history_row
from console.plain import text
from console.tui.fitted_columns import Column, FittedTable
from console.tui.widgets.fitted_footer import FittedFooter
from rollout.ledger.history import BootDurations
from rollout.ledger.rollout_item import RolloutItem

_BARS = "▁▂▃▄▅▆▇█"

# The history's columns (`HISTORY_HEADERS`, the CLI's) on a screen: who, the strategy and
# then the start (the rollout id carries it to the second) leave a narrow one first; the
# outcome takes what is left and wraps.
_WIDTHS = {
    "rollout": Column("rollout", "rollout", 20),  # `20261127-105500-a1b2`
    "release": Column("release", "release", 9),  # `v10 → v11`
    "strategy": Column("strategy", "strategy", 10, drop=2),
    "state": Column("state", "state", 11),  # `rolled_back`
    "started": Column("started", "started", 19, drop=1),
    "took": Column("took", "took", 6),  # `12m05s`
    "by": Column("by", "by", 22, min_width=12, drop=3),
    "outcome": Column("outcome", "outcome", 24),
}
ROLLOUT_COLUMNS = tuple(_WIDTHS[h] for h in HISTORY_HEADERS)
BOOT_COLUMNS = (
    Column("release", "release", 9),
    Column("boots", "boots", 5),
    *(Column(k, k, 7) for k in ("median", "min", "max")),  # `123.4 s`
    Column("distribution", "distribution", 12),
)


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

    def _rollouts(self) -> FittedTable | str:
        if not self.records:
            return "no rollouts yet"
        newest_first = sorted(self.records, key=lambda r: r.rollout_id, reverse=True)
        return FittedTable(ROLLOUT_COLUMNS, (history_row(r) for r in newest_first))

    def _boots(self) -> FittedTable | str:
        samples = self.durations.samples
        if not samples:
            return "no boots measured yet"
        rows = (
            (
                text(release, one_line=True),
                str(len(values)),
                f"{statistics.median(values):.1f} s",
                f"{min(values):.1f} s",
                f"{max(values):.1f} s",
                histogram(values),
            )
            for release, values in sorted(samples.items())
        )
        return FittedTable(BOOT_COLUMNS, rows)


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
