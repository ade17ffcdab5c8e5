"""Questions the console asks: pick a release, confirm a plan or a destructive key.

Every confirmation opens with the safe button focused, so `enter` never destroys by
accident; on production accounts the app name must be typed first (DESIGN §2).
"""

from __future__ import annotations

from rich.table import Table
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from rollout.model import Release

_DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 90; height: auto; max-height: 90%;
    border: thick $accent; background: $surface; padding: 1 2;
}}
{name} .title {{ text-style: bold; padding-bottom: 1; }}
{name} Horizontal {{ height: auto; align-horizontal: right; padding-top: 1; }}
{name} Button {{ margin-left: 2; }}
{name} OptionList {{ height: auto; max-height: 16; }}
"""


class ReleasePicker(ModalScreen[str | None]):
    """The app's releases, newest first; `enter` picks one, `escape` cancels."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="ReleasePicker")
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="picker.cancel")]

    def __init__(self, app_name: str, releases: list[Release], serving: str, verb: str) -> None:
        super().__init__()
        self.app_name = app_name
        self.releases = releases
        self.serving = serving
        self.verb = verb

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"{self.verb} {self.app_name}: pick a release", classes="title")
            newest_first = sorted(self.releases, key=_age, reverse=True)
            options = [Option(self._label(r), id=r.version) for r in newest_first]
            yield OptionList(*options, id="releases")

    def _label(self, r: Release) -> str:
        when = r.created_at.strftime("%Y-%m-%d %H:%M") if r.created_at else ""
        serving = "  (serving)" if r.version == self.serving else ""
        notes = f"  {r.notes}" if r.notes else ""
        return f"{r.version:<12} {when:<17} {r.created_by:<20}{serving}{notes}"

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


def _age(r: Release) -> tuple[float, str]:
    return (r.created_at.timestamp() if r.created_at else 0.0, r.version)


class Confirm(ModalScreen[bool]):
    """A yes/no question with the safe answer focused; `type_to_confirm` must be typed."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="Confirm")
    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel", id="confirm.cancel")]

    def __init__(
        self,
        title: str,
        body: Table | str,
        *,
        yes: str,
        type_to_confirm: str = "",
        destructive: bool = True,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.yes = yes
        self.type_to_confirm = type_to_confirm
        self.destructive = destructive

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="title")
            yield Static(self.body, id="body")
            if self.type_to_confirm:
                yield Static(f"Production: type [b]{self.type_to_confirm}[/] to confirm.")
                yield Input(placeholder=self.type_to_confirm, id="typed")
            with Horizontal():
                yield Button("Cancel", id="no", variant="primary")
                yield Button(
                    self.yes,
                    id="yes",
                    variant="error" if self.destructive else "success",
                    disabled=bool(self.type_to_confirm),
                )

    def on_mount(self) -> None:
        # The safe answer has the focus: `enter` cancels.
        self.query_one("#no", Button).focus()

    @on(Input.Changed, "#typed")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#yes", Button).disabled = event.value.strip() != self.type_to_confirm

    @on(Button.Pressed)
    def _answered(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class StayOrDetach(ModalScreen[str]):
    """Quitting mid-rollout: stay (default), or detach and leave it for `resume`."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="StayOrDetach")
    BINDINGS = [Binding("escape", "dismiss('stay')", "Stay", id="quit.stay")]

    def __init__(self, app_name: str, rollout_id: str) -> None:
        super().__init__()
        self.app_name = app_name
        self.rollout_id = rollout_id

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"A rollout of {self.app_name} is running", classes="title")
            yield Static(
                f"Rollout {self.rollout_id} stops advancing if you leave. Detach leaves it "
                f"where it stands: `freshfleet resume {self.app_name}` finishes it, "
                f"`freshfleet rollback {self.app_name}` undoes it."
            )
            with Horizontal():
                yield Button("Stay", id="stay", variant="primary")
                yield Button("Detach and quit", id="detach", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#stay", Button).focus()

    @on(Button.Pressed)
    def _answered(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "stay")


def plan_table(rows: list[tuple[str, str, str]]) -> Table:
    """A plan's diff: what, before, after."""
    table = Table(box=None, show_header=True, header_style="bold", expand=True)
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("before", style="red")
    table.add_column("after", style="green")
    for what, before, after in rows:
        table.add_row(what, before, after)
    return table


class ResumeOrRollback(ModalScreen[str]):
    """A rollout left unfinished by a dead or detached owner: resume it, roll it back, or
    leave it for later (the default)."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="ResumeOrRollback")
    BINDINGS = [Binding("escape", "dismiss('later')", "Later", id="unfinished.later")]

    def __init__(self, app_name: str, rollout_id: str, summary: str) -> None:
        super().__init__()
        self.app_name = app_name
        self.rollout_id = rollout_id
        self.summary = summary

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                f"{self.app_name}: rollout {self.rollout_id} is unfinished", classes="title"
            )
            yield Static(self.summary)
            with Horizontal():
                yield Button("Later", id="later", variant="primary")
                yield Button("Resume", id="resume", variant="success")
                yield Button("Roll back", id="rollback", variant="error")

    def on_mount(self) -> None:
        self.query_one("#later", Button).focus()

    @on(Button.Pressed)
    def _answered(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "later")
