"""`freshfleet history`: an app's rollouts, newest first, as rich output and JSON."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.text import Text

from console.cli.output import Column, print_table
from console.palette import STATE_STYLE
from console.plain import text
from rollout.ledger.rollout_item import RolloutItem


def rollout_json(r: RolloutItem) -> dict[str, Any]:
    return {
        "rollout_id": r.rollout_id,
        "from_release": r.from_release or None,
        "to_release": r.to_release,
        "strategy": r.strategy,
        "state": r.state,
        "outcome": r.outcome,
        "reason": r.reason,
        "owner": r.owner,
        "started_at": _iso(r.started),
        "finished_at": _iso(r.finished),
        "duration_seconds": r.duration_seconds,
        "judge": dataclasses.asdict(r.judge) if r.judge else None,
        "steps": [
            {
                "name": s.name,
                "status": s.status,
                "started_at": _iso(s.started),
                "finished_at": _iso(s.finished),
                "detail": s.detail,
            }
            for s in r.steps
        ],
    }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


HISTORY_HEADERS = ("rollout", "release", "strategy", "state", "started", "took", "by", "outcome")
_COLUMNS = tuple(Column(h) for h in HISTORY_HEADERS)


def history_row(r: RolloutItem) -> tuple[Text | str, ...]:
    """A rollout as the history shows it in both faces, a cell per `HISTORY_HEADERS`."""
    return (
        text(r.rollout_id, one_line=True),
        text(f"{r.from_release or '∅'} → {r.to_release}", one_line=True),
        text(r.strategy, one_line=True),
        text((r.state, STATE_STYLE.get(r.state, "")), one_line=True),
        started_text(r),
        duration(r.duration_seconds),
        text(r.owner, one_line=True),
        outcome_text(r),
    )


def render_history(
    out: Console, app: str, rollouts: list[RolloutItem], *, full: bool = False
) -> None:
    """The rollouts table, newest first (`full`: one rollout a line, the judge's evidence
    on it after the outcome, every value whole; see console.cli.output)."""
    if not rollouts:
        out.print(text(f"{app}: no rollouts yet"))
        return
    rows = [history_row(r) for r in rollouts]
    print_table(out, _COLUMNS, rows, full=full, title=f"rollouts of {app}")


def started_text(r: RolloutItem) -> str:
    """When the rollout started, to the second ("" when not recorded)."""
    started = r.started
    return f"{started:%Y-%m-%d %H:%M:%S}" if started else ""


def outcome_text(r: RolloutItem) -> Text:
    """The reason (or outcome), and below it the judge's evidence when one looked."""
    if r.judge is None:
        return text(r.reason or r.outcome)
    return text(r.reason or r.outcome, "\n", (f"judge {r.judge.summary}", "dim"))
