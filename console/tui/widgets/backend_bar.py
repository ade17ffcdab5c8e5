"""The header every screen shows: which AWS, read-only or not, and how fresh the fleet is."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from console.plain import plain, text


class BackendBar(Widget):
    """`freshfleet │ LOCAL SANDBOX │ simulated boots │ READ-ONLY │ updated 2s ago │ why
    simulated` (a warning when polls fail)."""

    DEFAULT_CSS = """
    BackendBar { height: 1; background: $panel; color: $text; }
    """

    backend = reactive("connecting…")
    boots = reactive("")  # on a localaws: "real boots", or "simulated boots: why"
    read_only = reactive(False)
    status = reactive("")  # a state shown instead of the age, e.g. "starting local sandbox…"
    error = reactive("")
    updated_at: reactive[datetime | None] = reactive(None)
    note = reactive("")

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__()
        self.clock = clock

    def on_mount(self) -> None:
        self.set_interval(1.0, self.refresh)

    def freshness(self) -> str:
        """`updated 3s ago`, or the status while there is no fleet yet."""
        if self.updated_at is None:
            return self.status or "waiting for the first poll…"
        seconds = max(0, int((self.clock() - self.updated_at).total_seconds()))
        return f"updated {seconds}s ago"

    def render(self) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis")

        def add(part: str, style: str) -> None:
            line.append(plain(part, one_line=True), style=style)

        add(" freshfleet ", "bold reverse")
        add(f" {self.backend} ", "bold")
        mode, _, why = self.boots.partition(": ")
        if mode:
            add("│", "dim")
            add(f" {mode} ", "green" if mode.startswith("real") else "yellow")
        if self.read_only:
            add("│", "dim")
            add(" READ-ONLY ", "bold yellow")
        add("│ ", "dim")
        if self.error:
            add(f"⚠ {self.freshness()} — poll failed: {self.error}", "bold red")
        else:
            add(self.freshness(), "dim" if self.updated_at else "italic")
        if self.note:
            add(f"  │ {self.note}", "dim")
        if why:  # last: a long reason may be cut, the freshness never
            add(f"  │ {mode}: {why}", "dim")
        return line


class ProductionBanner(Static):
    """The red line that says this is a production account (ARCHITECTURE §2)."""

    DEFAULT_CSS = """
    ProductionBanner {
        height: 1; display: none;
        background: $error; color: $text; text-style: bold; content-align: center middle;
    }
    ProductionBanner.-production { display: block; }
    """

    def show(self, account: str, read_only: bool) -> None:
        how = (
            "read-only (start with --allow-deploy to deploy)"
            if read_only
            else "deploys allowed: type the app name to confirm"
        )
        self.update(text(f"PRODUCTION account {account} — {how}"))
        self.add_class("-production")


class StatusLine(Widget):
    """One line of text that repaints without relayout (the cursor moves it on every key)."""

    DEFAULT_CSS = """
    StatusLine { height: 1; color: $text-muted; padding: 0 1; }
    """

    text = reactive("")

    def render(self) -> Text:
        return Text(plain(self.text, one_line=True), no_wrap=True, overflow="ellipsis")
