"""The console's answers to an operation's questions (`rollout.operations`): each question
becomes the dialog a person answers, and the dialog's answer the operation's.

On a production account the operation asks `Ask.PRODUCTION` first; the console answers it
with the app's name to be typed in the operation's first dialog (one typed name per key,
as the dialogs always asked it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.tui.screens.dialogs import Confirm, ResumeOrRollback, RollbackChoice, plan_table
from rollout.operations import Act, Answer, Ask, Question, WayBack

if TYPE_CHECKING:
    from console.tui.app import FreshfleetApp


def unfinished_summary(q: Question) -> str:
    """The offer's text: what the unfinished rollout did so far and what each answer does."""
    u = q.unfinished
    assert u is not None
    return (
        f"{u.from_release or '(none)'} → {u.to_release} "
        f"({u.strategy}), {u.state} by {u.owner} "
        f"after: {', '.join(s.name for s in u.steps) or 'no step'}.\n"
        "Resume finishes it from its last step; Roll back or Abort undoes it "
        "(traffic flips back if it moved; the new group is deleted)."
    )


class ConsoleAnswers:
    """The `confirm` hook of the console's `Face` for one operation started by a key
    (`FreshfleetApp._face`); `chosen` (the way back) and `taken` (what an offer of an
    unfinished rollout was answered) are what the person picked, for what the console
    says afterwards."""

    def __init__(self, app: FreshfleetApp) -> None:
        self.app = app
        self.typed = ""  # the app's name, to be typed in the next dialog (production)
        self.chosen: WayBack | None = None
        self.offered = False  # an unfinished rollout was offered
        self.taken: Act | None = None  # what the offer's answer was

    def _gate(self) -> str:
        typed, self.typed = self.typed, ""
        return typed

    async def __call__(self, q: Question) -> Answer:
        if q.ask is Ask.PRODUCTION:
            self.typed = q.app
            return True
        if q.ask is Ask.PLAN:
            return await self._plan(q)
        if q.ask is Ask.WAY_BACK:
            return await self._way_back(q)
        if q.ask is Ask.TAKE_OVER:
            return await self._take_over(q)
        return await self.app.push_screen_wait(
            Confirm(
                f"Abort {q.app}'s rollout?",
                "Before the shift the new group is deleted and the old fleet never changed; "
                "after it, traffic flips back.",
                yes="Abort",
                type_to_confirm=self._gate(),
            )
        )

    async def _plan(self, q: Question) -> bool:
        plan = q.plan
        assert plan is not None
        verb = "Roll back" if q.act is Act.FRESH else "Deploy"
        version = plan.release.version
        rows = [(c.what, c.before, c.after) for c in plan.diff()]
        confirmed = await self.app.push_screen_wait(
            Confirm(
                f"{verb} {q.app} {version} ({plan.strategy})?",
                plan_table(rows),
                yes=verb,
                type_to_confirm=self._gate(),
            )
        )
        if not confirmed:
            self.app.say(f"{verb.lower()} of {q.app} {version} cancelled")
        return bool(confirmed)

    async def _way_back(self, q: Question) -> WayBack | None:
        options = q.options
        assert options is not None
        answer = await self.app.push_screen_wait(
            RollbackChoice(options, options.fresh_releases, type_to_confirm=self._gate())
        )
        if answer is None:
            return None
        if answer.way == "flip":
            self.chosen = WayBack(Act.FLIP)
            return self.chosen
        if self.app.rollout is not None:
            self.app.say(
                f"a rollout of {self.app.rollout.app} is already running", severity="warning"
            )
            return None
        self.chosen = WayBack(Act.FRESH, answer.release)
        return self.chosen

    async def _take_over(self, q: Question) -> Act | None:
        u = q.unfinished
        assert u is not None
        self.offered = True
        choice = await self.app.push_screen_wait(
            ResumeOrRollback(
                q.app, u.rollout_id, unfinished_summary(q), type_to_confirm=self._gate()
            )
        )
        self.taken = Act(choice) if choice in {str(a) for a in q.choices} else None
        return self.taken
