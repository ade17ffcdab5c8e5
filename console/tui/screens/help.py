"""`?`: every key of the screen below, with what it does (as the user's keymap set it)."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    """The keys of `screen`, read from its live bindings so remaps and read-only show."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 100; height: auto; max-height: 90%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    HelpScreen #help-title { text-style: bold; padding-bottom: 1; }
    """

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help.close"),
    ]

    def __init__(self, screen: Screen[object]) -> None:
        super().__init__()
        self.under = screen

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(
                "Keys  (remap any of them in the config's \\[keymap] table by its id)",
                id="help-title",
            )
            yield Static(self._table(), id="help-keys")
            yield Static(
                "Filter: / then text matches any column; start with ! to invert. "
                "Esc clears it.\nClick a column title to sort by it.",
                id="help-notes",
            )

    def _table(self) -> Table:
        table = Table(box=None, show_header=True, header_style="bold", expand=True)
        table.add_column("key", style="bold cyan", no_wrap=True)
        table.add_column("action")
        table.add_column("what it does", style="dim")
        table.add_column("id", style="dim", no_wrap=True)
        # Every key of an action on one row (`↑ k`, `home g`): a second key is no secret.
        keys: dict[str, list[str]] = {}
        rows: dict[str, Binding] = {}
        for key, active in self.under.active_bindings.items():
            b = active.binding
            # Ours carry ids; Textual's own scrolling and focus keys are left out.
            if not b.id or not b.description or not active.enabled:
                continue
            rows.setdefault(b.action, b)
            shown = self.app.get_key_display(b) if b.key == key else key
            if shown not in keys.setdefault(b.action, []):
                keys[b.action].append(shown)
        for action, b in rows.items():
            table.add_row(" ".join(keys[action]), b.description, b.tooltip, b.id or "")
        table.add_row("ctrl+q", "Quit", "Leave the console", "")
        table.add_row("ctrl+p", "Palette", "Every action, searchable", "")
        return table

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
