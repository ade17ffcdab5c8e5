"""Every key of the console in one list: the footer, `?` help and the palette read it.

Each binding has an `id` so users remap it in the config (`[keymap] deploy = "ctrl+d"`);
mutating actions are marked so `--read-only` (and production without `--allow-deploy`)
removes them from the footer, the help and the palette alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True, slots=True)
class ConsoleAction:
    """One thing a person can do: its default key, its words and whether it changes AWS."""

    id: str
    key: str
    action: str
    description: str
    tooltip: str
    mutating: bool = False
    show: bool = True
    key_display: str | None = None
    # Left out of a narrow screen's footer (console.tui.widgets.fitted_footer) to make room:
    # still a key, in `?` help and in the palette.
    wide_only: bool = False

    def binding(self) -> Binding:
        return Binding(
            self.key,
            self.action,
            self.description,
            show=self.show,
            id=self.id,
            tooltip=self.tooltip,
            key_display=self.key_display,
        )


APP_ACTIONS: tuple[ConsoleAction, ...] = (
    ConsoleAction("quit", "q", "quit", "Quit", "Leave the console (a running rollout asks first)"),
    ConsoleAction("help", "question_mark", "help", "Help", "Show every key", key_display="?"),
)

FLEET_ACTIONS: tuple[ConsoleAction, ...] = (
    ConsoleAction(
        "filter",
        "slash",
        "filter",
        "Filter",
        "Filter rows by any column; !text inverts",
        key_display="/",
    ),
    ConsoleAction(
        "open",
        "enter",
        "open",
        "Open",
        "Details and console output of the instance",
        wide_only=True,  # enter opens what is selected anyway
    ),
    ConsoleAction("sort", "s", "sort", "Sort", "Sort instances by the next column"),
    ConsoleAction("sort_reverse", "S", "sort_reverse", "Reverse", "Reverse the sort", show=False),
    ConsoleAction(
        "logs",
        "l",
        "logs",
        "Logs",
        "Console output of the selected instance",
        wide_only=True,  # open shows them too
    ),
    ConsoleAction("history", "h", "history", "History", "Who deployed what, when, and boot times"),
    ConsoleAction(
        "deploy", "d", "deploy", "Deploy", "Pick a release, read the plan, confirm", mutating=True
    ),
    ConsoleAction(
        "canary",
        "c",
        "canary",
        "Canary",
        "Deploy to one instance and a traffic share first",
        mutating=True,
    ),
    ConsoleAction(
        "rollback",
        "r",
        "rollback",
        "Rollback",
        "Choose: flip back (seconds) or redeploy (ETA)",
        mutating=True,
    ),
    ConsoleAction("abort", "a", "abort", "Abort", "Stop the app's running rollout", mutating=True),
)

# Actions that change AWS: hidden everywhere when the console is read-only.
MUTATING_ACTIONS = frozenset(a.action for a in (*APP_ACTIONS, *FLEET_ACTIONS) if a.mutating)
WIDE_ONLY_ACTIONS = frozenset(a.action for a in (*APP_ACTIONS, *FLEET_ACTIONS) if a.wide_only)


def bindings(actions: tuple[ConsoleAction, ...]) -> list[BindingType]:
    return [a.binding() for a in actions]


def all_actions() -> tuple[ConsoleAction, ...]:
    return (*APP_ACTIONS, *FLEET_ACTIONS)
