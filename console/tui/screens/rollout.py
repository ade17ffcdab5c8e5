"""The live rollout: steps with timings, instances as progress, weights, ETA, the failure,
and while the judge watches, each judged group's traffic and the judge's verdict."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Sparkline, Static

from console.palette import STEP_STYLE
from console.plain import plain, text
from console.tui.fitted_columns import Column, FittedTable
from console.tui.fleet_rows import COLUMNS
from console.tui.rollout_view import RolloutView, summarise, traffic_line
from console.tui.widgets.console_tail import ConsoleTail
from console.tui.widgets.fitted_footer import FittedFooter
from rollout.events import RolloutEvent
from rollout.ledger.vocabulary import RolloutState

# A rollout's instances in the fleet table's columns (their widths, what a narrow screen
# keeps), titled as this screen's other tables, then what the gate last said of each.
STEP_COLUMNS = (
    Column("step", "step", 8),  # `rollback`
    Column("status", "status", 11),  # `interrupted`
    Column("time", "time", 8, justify="right"),  # `1234.5 s`
    Column("detail", "detail", 20),
)
_TITLES = {"id": "instance", "state": "EC2", "health": "target health", "boot": "boot phase"}
INSTANCE_COLUMNS = (
    *(replace(c, title=_TITLES[c.key]) for c in COLUMNS if c.key in _TITLES),
    Column("detail", "detail", 20, min_width=8),
)


class RolloutScreen(Screen[None]):
    """Follows one rollout's event stream; `escape` goes back to the fleet (it keeps going)."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Fleet", id="rollout.back"),
        Binding("a", "app.abort", "Abort", id="rollout.abort", tooltip="Abort this rollout"),
        Binding(
            "r",
            "app.rollback",
            "Rollback",
            id="rollout.rollback",
            tooltip="Ways back with estimates",
        ),
    ]

    DEFAULT_CSS = """
    RolloutScreen #rollout-title { height: 1; text-style: bold; background: $panel; padding: 0 1; }
    RolloutScreen #status { height: auto; padding: 0 1; }
    RolloutScreen #steps, RolloutScreen #instances { height: auto; padding: 0 1; }
    RolloutScreen #health { height: auto; padding: 0 1; }
    RolloutScreen .spark-row { height: 2; }
    RolloutScreen .spark-label { width: 48; }
    RolloutScreen Sparkline { width: 1fr; height: 2; }
    RolloutScreen .traffic Sparkline { margin-left: 1; }
    RolloutScreen .heads { height: 1; }
    RolloutScreen .spark-head { width: 1fr; margin-left: 1; color: $text-muted; }
    RolloutScreen #judge { height: auto; padding: 0 1; }
    RolloutScreen #failure { height: auto; color: $error; text-style: bold; padding: 0 1; }
    RolloutScreen #tail {
        height: 1fr; min-height: 5; border-top: solid $panel; border-title-color: $text-muted;
    }
    """

    FOLLOW_SECONDS = 2.0

    def __init__(
        self,
        view: RolloutView,
        events: Callable[[], AsyncIterator[RolloutEvent]],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        console_output: Callable[[str], Any] | None = None,
    ) -> None:
        super().__init__()
        self.view = view
        self.events = events
        self.clock = clock
        self.console_output = console_output
        self._sparks: dict[str, Sparkline] = {}
        self._traffic_rows: dict[str, tuple[Static, tuple[Sparkline, Sparkline, Sparkline]]] = {}
        self._tail_title = ""

    def compose(self) -> ComposeResult:
        title = text(f"rollout {self.view.rollout_id} of {self.view.app}")
        yield Static(title, id="rollout-title")
        yield Static("", id="status")
        yield Static("", id="steps")
        yield Static("", id="instances")
        yield Vertical(id="health")
        yield Static("", id="judge")
        yield Static("", id="failure")
        tail = ConsoleTail(self.console_output, every=self.FOLLOW_SECONDS, id="tail", max_lines=500)
        tail.border_title = "console output: the failing (or slowest) instance shows here"
        yield tail
        yield FittedFooter()

    def on_mount(self) -> None:
        # The method, not a coroutine: leaving the screen before the worker's task runs
        # cancels it, and then no coroutine was made to be left never awaited.
        follow: Callable[[], Awaitable[None]] = self._follow
        self.run_worker(
            follow,
            group="rollout-events",
            description="follow the rollout",
            exit_on_error=False,
        )
        self.set_interval(1.0, self.redraw)
        self.redraw()

    async def _follow(self) -> None:
        async for event in self.events():
            self.view.apply(event)
            self.redraw()

    def redraw(self) -> None:
        if not self.is_mounted:
            return
        view = self.view
        now = self.clock()
        self.query_one("#status", Static).update(self._status(now))
        self.query_one("#steps", Static).update(self._steps(now))
        self.query_one("#instances", Static).update(self._instances())
        self._sparklines()
        self._traffic()
        verdict = self.query_one("#judge", Static)
        verdict.update(self._verdict())
        verdict.display = self.view.judge is not None
        failure = view.failure
        self.query_one("#failure", Static).update(
            text(f"✗ {failure.step} failed: {failure.reason}") if failure else ""
        )
        self._watch()

    def _watch(self) -> None:
        """Point the log pane at the failing (or slowest) instance; it follows it live
        until the rollout ends (then one last fetch, so the last lines show)."""
        tail = self.query_one("#tail", ConsoleTail)
        if self.console_output is None:
            return
        chosen = self.view.instance_to_watch(tail.instance_id)
        if not chosen:
            return
        why = "failing" if chosen == self.view.failing_instance() else "slowest to boot"
        title = f"console output of {chosen} ({why})"
        if self._tail_title != title:
            self._tail_title = title
            tail.border_title = text(title, one_line=True)
        if chosen != tail.instance_id:
            tail.follow(chosen)
        if self.view.finished is not None:
            tail.finish()

    def _status(self, now: datetime) -> Text:
        view = self.view
        status = Text()
        if view.finished is not None:
            style = "bold green" if view.finished.state == RolloutState.SUCCEEDED else "bold red"
            status.append(plain(view.finished.state), style=style)
            if view.finished.outcome:
                status.append(plain(f" — {view.finished.outcome}"))
        else:
            status.append("running", style="bold yellow")
            headline = view.headline(now)
            if headline:
                status.append(plain(f"  {headline}"))
        if view.weights:
            weights = "  ".join(f"{g} {w} %" for g, w in view.weights.items())
            status.append(f"\nweights: {plain(weights, one_line=True)}", style="dim")
        for notice in view.notices[-2:]:
            status.append(f"\n{plain(notice, one_line=True)}", style="dim")
        return status

    def _steps(self, now: datetime) -> FittedTable:
        failure = self.view.failure
        rows = []
        for step in self.view.steps:
            detail = step.detail
            if failure is not None and detail == failure.reason:
                detail = f"{summarise(detail)} (below)"  # whole once, in the failure line
            rows.append(
                (
                    text(step.name, one_line=True),
                    text((step.status, STEP_STYLE.get(step.status, "")), one_line=True),
                    f"{step.seconds(now):.1f} s",
                    text(detail),
                )
            )
        return FittedTable(STEP_COLUMNS, rows)

    def _instances(self) -> FittedTable:
        rows = []
        for inst in self.view.instances.values():
            health = inst.health_text or "not registered"
            style = "red" if inst.failed else ("green" if inst.health == "healthy" else "")
            rows.append(
                (
                    text(inst.instance_id, one_line=True),
                    text(inst.state, one_line=True),
                    text((health, style), one_line=True),
                    text(inst.boot_text, one_line=True),
                    text(inst.detail),
                )
            )
        return FittedTable(INSTANCE_COLUMNS, rows, growth_order=("health", "detail"))

    def _sparklines(self) -> None:
        box = self.query_one("#health", Vertical)
        for group, history in self.view.healthy_history.items():
            if not history:
                continue  # no count seen yet for this group
            spark = self._sparks.get(group)
            if spark is not None:
                spark.data = list(history)
                continue
            spark = self._sparks[group] = Sparkline(list(history))
            box.mount(
                Horizontal(
                    Static(text(f"healthy targets {group}", one_line=True), classes="spark-label"),
                    spark,
                    classes="spark-row",
                )
            )

    def _traffic(self) -> None:
        """Per judged group, beside its healthy-target chart: requests/s, 5xx % and latency."""
        box = self.query_one("#health", Vertical)
        for group, series in self.view.traffic.items():
            if not series.rps:
                continue
            row = self._traffic_rows.get(group)
            if row is None and not self._traffic_rows:
                names = ("requests/s", "5xx %", "latency")
                heads = [Static(h, classes="spark-head") for h in names]
                box.mount(Horizontal(Static("", classes="spark-label"), *heads, classes="heads"))
            if row is None:
                label = Static("", classes="spark-label")
                sparks = (
                    Sparkline([], id=f"rps-{group}"),
                    Sparkline([], id=f"errors-{group}"),
                    Sparkline([], id=f"latency-{group}"),
                )
                box.mount(Horizontal(label, *sparks, classes="spark-row traffic"))
                row = self._traffic_rows[group] = (label, sparks)
            label, (rps, errors, latency) = row
            label.update(text(f"traffic {group}\n  {traffic_line(series)}"))
            rps.data, errors.data = list(series.rps), list(series.error_pct)
            latency.data = list(series.latency_ms)

    def _verdict(self) -> Text:
        judge = self.view.judge
        if judge is None:
            return Text()
        style = {"pass": "green", "fail": "bold red"}.get(judge.verdict, "yellow")
        verdict = text("judge ", (judge.verdict, style), f" ({judge.during}): {judge.reason}")
        verdict.style = "bold"
        return verdict
