"""Questions the console asks: pick a release, confirm a plan or a destructive key.

Every confirmation opens with the safe button focused, so `enter` never destroys by
accident; on production accounts the app name must be typed first (ARCHITECTURE §2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypeVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from console.plain import text
from rollout.deploy.ways_back import FlipBack, FreshDeploy, RollbackOptions
from rollout.model import Release


def typed_name_gate(name: str) -> ComposeResult:
    """The production gate (ARCHITECTURE §2): a hint and an `#typed` input for `name`; nothing
    when `name` is empty (not a production account)."""
    if name:
        yield Static(text("Production: type ", (name, "bold"), " to confirm."), classes="hint")
        yield Input(placeholder=name, id="typed")


AnswerT = TypeVar("AnswerT")


class Dialog(ModalScreen[AnswerT]):
    """A question in a box over the screen: a bold heading, then what `compose_body` yields.

    `FOCUS` (a selector) has the focus when it opens: the safe answer. Buttons listed in
    `LOCKED` stay disabled while a production gate (`type_to_confirm`) is not typed right.
    """

    # 90 cells wide where there is room, never wider than the screen (an 80×24 terminal): the
    # text wraps and the plan table's columns narrow (plan_table) instead of being cut.
    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog > Vertical {
        width: 90; max-width: 100%; height: auto; max-height: 90%;
        border: thick $accent; background: $surface; padding: 1 2;
    }
    Dialog .title { text-style: bold; padding-bottom: 1; }
    Dialog Horizontal { height: auto; align-horizontal: right; padding-top: 1; }
    Dialog Button { margin-left: 2; }
    Dialog OptionList { height: auto; max-height: 16; }
    Dialog .hint { padding-top: 1; color: $warning; }
    """

    FOCUS: ClassVar[str] = ""
    LOCKED: ClassVar[tuple[str, ...]] = ()  # button ids the production gate unlocks
    type_to_confirm = ""  # the name to type on a production account ("" when none)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.heading(), classes="title")
            yield from self.compose_body()

    def heading(self) -> Text:
        """The dialog's title line."""
        raise NotImplementedError

    def compose_body(self) -> ComposeResult:
        """Everything under the heading: the text, the gate, the buttons."""
        raise NotImplementedError

    def on_mount(self) -> None:
        self.opened()
        if self.FOCUS:
            self.query_one(self.FOCUS).focus()

    def opened(self) -> None:
        """Set the dialog's state once it is mounted, before the safe answer takes the focus."""

    def typed_ok(self) -> bool:
        """Whether the production gate is passed: nothing to type, or the name typed right."""
        if not self.type_to_confirm:
            return True
        return self.query_one("#typed", Input).value.strip() == self.type_to_confirm

    @on(Input.Changed, "#typed")
    def _typed(self, event: Input.Changed) -> None:
        self.unlock()

    def unlock(self) -> None:
        """Enable the LOCKED buttons exactly while the gate is passed."""
        ok = self.typed_ok()
        for button in self.LOCKED:
            self.query_one(f"#{button}", Button).disabled = not ok


class ReleasePicker(Dialog[str | None]):
    """The app's releases, newest first; `enter` picks one, `escape` cancels."""

    FOCUS = "OptionList"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="picker.cancel")]

    def __init__(self, app_name: str, releases: list[Release], serving: str, verb: str) -> None:
        super().__init__()
        self.app_name = app_name
        self.releases = releases
        self.serving = serving
        self.verb = verb

    def heading(self) -> Text:
        return text(f"{self.verb} {self.app_name}: pick a release")

    def compose_body(self) -> ComposeResult:
        newest_first = sorted(self.releases, key=_age, reverse=True)
        options = [Option(self._label(r), id=r.version) for r in newest_first]
        yield OptionList(*options, id="releases")

    def _label(self, r: Release) -> Text:
        when = r.created_at.strftime("%Y-%m-%d %H:%M") if r.created_at else ""
        serving = "  (serving)" if r.version == self.serving else ""
        notes = f"  {r.notes}" if r.notes else ""
        return text(f"{r.version:<12} {when:<17} {r.created_by:<20}{serving}{notes}", one_line=True)

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


def _age(r: Release) -> tuple[float, str]:
    return (r.created_at.timestamp() if r.created_at else 0.0, r.version)


class Confirm(Dialog[bool]):
    """A yes/no question with the safe answer focused; `type_to_confirm` must be typed."""

    FOCUS = "#no"  # the safe answer: `enter` cancels
    LOCKED = ("yes",)
    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel", id="confirm.cancel")]

    def __init__(
        self,
        title: str,
        body: Table | Text | str,
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

    def heading(self) -> Text:
        return text(self.title_text)

    def compose_body(self) -> ComposeResult:
        body = text(self.body) if isinstance(self.body, str) else self.body
        yield Static(body, id="body")
        yield from typed_name_gate(self.type_to_confirm)
        with Horizontal():
            yield Button("Cancel", id="no", variant="primary")
            yield Button(
                self.yes,
                id="yes",
                variant="error" if self.destructive else "success",
                disabled=bool(self.type_to_confirm),
            )

    @on(Button.Pressed)
    def _answered(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class StayOrDetach(Dialog[str]):
    """Quitting mid-rollout: stay (default), or detach and leave it for `resume`."""

    FOCUS = "#stay"
    BINDINGS = [Binding("escape", "dismiss('stay')", "Stay", id="quit.stay")]

    def __init__(self, app_name: str, rollout_id: str, *, embedded: bool = False) -> None:
        super().__init__()
        self.app_name = app_name
        self.rollout_id = rollout_id
        self.embedded = embedded  # the console's own local sandbox stops when it quits

    def heading(self) -> Text:
        return text(f"A rollout of {self.app_name} is running")

    def compose_body(self) -> ComposeResult:
        if self.embedded:
            yield Static(
                text(
                    f"Rollout {self.rollout_id} runs on this console's local sandbox, which "
                    "stops when the console quits: the sandbox's fleet and its rollout end "
                    "with it, and nothing is left to resume."
                )
            )
        else:
            yield Static(
                text(
                    f"Rollout {self.rollout_id} stops advancing if you leave. Detach leaves "
                    f"it where it stands: `freshfleet resume {self.app_name}` finishes it, "
                    f"`freshfleet rollback {self.app_name}` undoes it."
                )
            )
        with Horizontal():
            yield Button("Stay", id="stay", variant="primary")
            quit_label = "Quit, ending the sandbox" if self.embedded else "Detach and quit"
            yield Button(quit_label, id="detach", variant="warning")

    @on(Button.Pressed)
    def _answered(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "stay")


def plan_table(rows: list[tuple[str, str, str]]) -> Table:
    """A plan's diff: what, before, after. On a narrow dialog a long value (a server
    group's name) folds onto a second line rather than losing its end."""
    table = Table(box=None, show_header=True, header_style="bold", expand=True)
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("before", style="red", overflow="fold")
    table.add_column("after", style="green", overflow="fold")
    for what, before, after in rows:
        table.add_row(text(what), text(before), text(after))
    return table


class ResumeOrRollback(Dialog[str]):
    """A rollout left unfinished by a dead or detached owner: resume it, roll it back, abort
    it, or leave it for later (the default). On a production account (`type_to_confirm`)
    Resume, Roll back and Abort stay disabled until the app's name is typed."""

    FOCUS = "#later"
    LOCKED = ("resume", "rollback", "abort")
    BINDINGS = [Binding("escape", "dismiss('later')", "Later", id="unfinished.later")]

    def __init__(
        self, app_name: str, rollout_id: str, summary: str, *, type_to_confirm: str = ""
    ) -> None:
        super().__init__()
        self.app_name = app_name
        self.rollout_id = rollout_id
        self.summary = summary
        self.type_to_confirm = type_to_confirm

    def heading(self) -> Text:
        return text(f"{self.app_name}: rollout {self.rollout_id} is unfinished")

    def compose_body(self) -> ComposeResult:
        yield Static(text(self.summary))
        yield from typed_name_gate(self.type_to_confirm)
        locked = bool(self.type_to_confirm)
        with Horizontal():
            yield Button("Later", id="later", variant="primary")
            yield Button("Resume", id="resume", variant="success", disabled=locked)
            yield Button("Roll back", id="rollback", variant="error", disabled=locked)
            yield Button("Abort", id="abort", variant="error", disabled=locked)

    @on(Button.Pressed)
    def _answered(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "later")


@dataclass(frozen=True, slots=True)
class RollbackAnswer:
    """What the rollback dialog chose: `flip` back, or a `fresh` deploy of `release`."""

    way: str  # "flip" | "fresh"
    release: str = ""


class RollbackChoice(Dialog[RollbackAnswer | None]):
    """`r`: the ways back with their estimates — flip back to the retained group (seconds)
    or a fresh deploy of an earlier release (its ETA). A way that is not possible is shown
    disabled with the reason. Cancel has the focus; production needs the app name typed."""

    DEFAULT_CSS = """
    RollbackChoice .way { padding-top: 1; }
    RollbackChoice .detail { padding-left: 3; }
    RollbackChoice .off { color: $text-muted; }
    RollbackChoice Horizontal Button { min-width: 10; }
    """
    FOCUS = "#no"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="rollback.cancel")]

    def __init__(
        self,
        options: RollbackOptions,
        releases: list[Release] | None = None,
        *,
        type_to_confirm: str = "",
    ) -> None:
        super().__init__()
        self.options = options
        self.releases = releases or []
        self.type_to_confirm = type_to_confirm
        self.release = options.fresh.release

    def heading(self) -> Text:
        o = self.options
        serving = f" (serving {o.serving})" if o.serving else ""
        return text(f"Roll back {o.app}{serving}: choose a way back")

    def compose_body(self) -> ComposeResult:
        o = self.options
        flip_head, flip_detail = self._flip_text()
        yield Static(flip_head, classes=self._class(o.flip_back))
        yield Static(flip_detail, id="flip-text", classes=self._class(o.flip_back, "detail"))
        fresh_head, fresh_detail = self._fresh_text()
        yield Static(fresh_head, classes=self._class(o.fresh))
        yield Static(fresh_detail, id="fresh-text", classes=self._class(o.fresh, "detail"))
        yield from typed_name_gate(self.type_to_confirm)
        with Horizontal():
            yield Button("Cancel", id="no", variant="primary")
            yield Button("Flip back", id="flip", variant="error")
            yield Button(self._fresh_label(), id="fresh", variant="error")
            yield Button("Other release…", id="pick", variant="default")

    @staticmethod
    def _class(way: FlipBack | FreshDeploy, kind: str = "way") -> str:
        return kind if way.available else f"{kind} off"

    def _flip_text(self) -> tuple[Text, Text]:
        """The flip back's heading with its estimate, and what it rests on (or why not)."""
        flip = self.options.flip_back
        head = ("1. Flip back to the retained group", "bold")
        if not flip.available:
            return text(head, "  ", ("not possible", "italic")), text(flip.reason)
        return (
            text(head, "  ", (flip.estimate.text, "bold")),
            text(
                f"{flip.group} ({flip.release}, {flip.healthy}/{flip.wanted} healthy) serves "
                f"again: one listener change.\nEstimate: {flip.estimate.basis}."
            ),
        )

    def _fresh_text(self) -> tuple[Text, Text]:
        """The fresh deploy's heading, and the chosen release's ETA (or why not)."""
        fresh = self.options.fresh
        head = text(("2. Fresh deploy of an earlier release", "bold"), " on a new server group")
        if not fresh.available:
            return head + text("  ", ("not possible", "italic")), text(fresh.reason)
        eta = self.options.eta_text(self.release)
        return head, text((self.release, "bold"), f": {eta}.\nA plan to confirm follows.")

    def _fresh_label(self) -> Text:
        return text(f"Deploy {self.release}" if self.release else "Deploy", one_line=True)

    def opened(self) -> None:
        self.unlock()

    def unlock(self) -> None:
        """A way back is enabled when it is possible and the gate is passed."""
        ok = self.typed_ok()
        o = self.options
        self.query_one("#flip", Button).disabled = not (ok and o.flip_back.available)
        self.query_one("#fresh", Button).disabled = not (ok and o.fresh.available)
        self.query_one("#pick", Button).disabled = not (o.fresh.available and self.releases)

    @on(Button.Pressed)
    def _answered(self, event: Button.Pressed) -> None:
        event.stop()
        button = event.button.id
        if button == "pick":
            self.app.push_screen(
                ReleasePicker(self.options.app, self.releases, self.options.serving, "Roll back"),
                self._picked,
            )
        elif button == "flip":
            self.dismiss(RollbackAnswer("flip"))
        elif button == "fresh":
            self.dismiss(RollbackAnswer("fresh", self.release))
        else:
            self.dismiss(None)

    def _picked(self, version: str | None) -> None:
        if version:
            self.release = version
            self.query_one("#fresh-text", Static).update(self._fresh_text()[1])
            self.query_one("#fresh", Button).label = self._fresh_label()
