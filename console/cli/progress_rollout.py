"""Rich progress of a rollout for the headless CLI: the plan's diff, one line per step and
per instance change, the listener's weights, and a status line with the gate's ETA."""

from __future__ import annotations

import dataclasses
from typing import Any

from rich.console import Console
from rich.table import Table

from console.palette import STATE_STYLE, STEP_STYLE
from console.plain import text
from rollout import events
from rollout.deploy import AbortRequest, RolloutPlan
from rollout.ledger.vocabulary import StepName, StepStatus


def render_plan(console: Console, plan: RolloutPlan) -> None:
    """The plan's diff: what changes, before -> after."""
    table = Table(title=text(f"deploy {plan.app} {plan.release.version}  ({plan.rollout_id})"))
    table.add_column("")
    table.add_column("now")
    table.add_column("after", style="bold")
    for change in plan.diff():
        table.add_row(text(change.what), text(change.before), text(change.after))
    console.print(table)


def plan_json(plan: RolloutPlan) -> dict[str, Any]:
    """The plan under --json: the app, the rollout's id and the diff's changes."""
    return {
        "app": plan.app,
        "rollout_id": plan.rollout_id,
        "changes": [{"what": c.what, "before": c.before, "after": c.after} for c in plan.diff()],
    }


def _fields(record: Any, *, leave_out: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A dataclass's fields by name, in the order it declares them, but those left out."""
    return {
        f.name: getattr(record, f.name)
        for f in dataclasses.fields(record)
        if f.name not in leave_out
    }


def result_json(result: events.RolloutResult) -> dict[str, Any]:
    """How a rollout ended under --json: every field of the result, its history of listener
    weights as `weights`."""
    return {
        **_fields(result, leave_out=frozenset({"weights_history"})),
        "weights": [dict(w) for w in result.weights_history],
    }


def request_json(request: AbortRequest) -> dict[str, Any]:
    """An abort's (or a flip back's) request under --json: the rollout asked, how it stands."""
    return _fields(request, leave_out=frozenset({"reason"}))


def render_request(console: Console, request: AbortRequest) -> None:
    """How the rollout an abort (or a flip back) asked to stop stands: `APP ID: STATE — OUTCOME`."""
    console.print(text(f"{request.app} {request.rollout_id}: {request.state} — {request.outcome}"))


_VERDICT_STYLE = {"pass": "green", "fail": "red", "undecided": "dim"}


class RolloutProgress:
    """Prints a rollout's events as they come; a status line shows gate and bake progress."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._status: Any = None
        self._verdict = ""  # the judge's last verdict printed

    def _set_status(self, status: str) -> None:
        if not self.console.is_terminal:
            return
        if self._status is None:
            self._status = self.console.status(text(status))
            self._status.start()
        else:
            self._status.update(text(status))

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def show(self, event: events.RolloutEvent) -> None:
        """Print one event: a line for a step, an instance, the weights, a notice, the
        failure or a change of the judge's verdict; gate, bake and the judge's evidence
        between verdicts go on the status line."""
        c = self.console
        match event:
            case events.StepStarted():
                self.close()
                # The plan's diff was shown as a table already.
                detail = "" if event.step == StepName.PLAN else event.detail
                c.print(text((f"▶ {event.step}", "bold"), f" {detail}"))
            case events.StepFinished():
                self.close()
                style = STEP_STYLE.get(event.status, "white")
                detail = f" {event.detail}" if event.status != StepStatus.OK else ""
                c.print(text("  ", (event.status, style), f" {event.step}{detail}"))
            case events.InstanceUpdate():
                seen = event.instance
                health = seen.health or "unregistered"
                style = "green" if health == "healthy" else "yellow"
                boot = f" boot {seen.boot_text}" if seen.phase else ""
                why = f" ({seen.health_reason})" if seen.health_reason else ""
                held = " Pending:Wait" if seen.waiting_on_hook else ""  # a launch hook holds it
                c.print(
                    text(
                        f"    {seen.instance_id} {seen.state}{held} ",
                        (health, style),
                        why + boot + (f": {seen.detail}" if seen.detail else ""),
                    )
                )
            case events.GateProgress():
                eta = f", about {event.eta_seconds:.0f} s to go" if event.eta_seconds else ""
                self._set_status(
                    f"gate: {event.healthy}/{event.wanted} healthy after "
                    f"{event.elapsed_seconds:.0f} s{eta} (deadline {event.deadline_seconds:.0f} s)"
                )
            case events.BakeProgress():
                self._set_status(
                    f"bake: {event.healthy}/{event.wanted} healthy, "
                    f"{event.remaining_seconds:.0f} s to go"
                )
            case events.WeightsChanged():
                weights = ", ".join(f"{g} {w}%" for g, w in event.weights.items())
                c.print(text("  ", ("listener", "cyan"), f" {weights}  ", (event.why, "dim")))
            case events.JudgeVerdict():
                # A line when the verdict changes; the status line carries the evidence between.
                judged = event.evidence
                if judged.verdict != self._verdict:
                    self.close()
                    self._verdict = judged.verdict
                    style = _VERDICT_STYLE.get(judged.verdict, "white")
                    c.print(text("  ", (f"judge {judged.verdict}", style), f" {judged.reason}"))
                else:
                    self._set_status(f"judge ({judged.during}): {judged.reason}")
            case events.Notice():
                style = "yellow" if event.level == "warning" else "dim"
                c.print(text("  ", (event.message, style)))
            case events.RolloutFailed():
                self.close()
                c.print(text((f"✗ {event.step or 'rollout'} failed:", "red"), f" {event.reason}"))
            case events.RolloutFinished():
                self.close()


def render_result(console: Console, result: events.RolloutResult) -> None:
    """How a rollout ended: `STATE APP FROM → TO (STRATEGY, ID): OUTCOME`, and its reason."""
    style = STATE_STYLE.get(result.state, "white")
    console.print(
        text(
            (result.state, style),
            f" {result.app} {result.from_release or '(none)'} → "
            f"{result.to_release} ({result.strategy}, {result.rollout_id}): {result.outcome}",
        )
    )
    if result.reason:
        console.print(text(f"  reason: {result.reason}"))
