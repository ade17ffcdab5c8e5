"""`freshfleet history`: an app's rollouts, newest first, as rich output and JSON."""

from __future__ import annotations

import dataclasses
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from console.plain import text
from rollout.ledger.history import RolloutRecord

_STATE_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "rolled_back": "yellow",
    "aborted": "yellow",
    "running": "cyan",
    "planned": "cyan",
    "detached": "magenta",
}


def rollout_json(r: RolloutRecord) -> dict[str, Any]:
    return {
        "rollout_id": r.rollout_id,
        "from_release": r.from_release or None,
        "to_release": r.to_release,
        "strategy": r.strategy,
        "state": r.state,
        "outcome": r.outcome,
        "reason": r.reason,
        "owner": r.owner,
        "started_at": r.started_at.isoformat() if r.started_at else None,
        "finished_at": r.finished_at.isoformat() if r.finished_at else None,
        "duration_seconds": r.duration_seconds,
        "judge": dataclasses.asdict(r.judge) if r.judge else None,
        "steps": [
            {
                "name": s.name,
                "status": s.status,
                "started_at": s.started_at.isoformat() if s.started_at else None,
                "finished_at": s.finished_at.isoformat() if s.finished_at else None,
                "detail": s.detail,
            }
            for s in r.steps
        ],
    }


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def render_history(out: Console, app: str, rollouts: list[RolloutRecord]) -> None:
    if not rollouts:
        out.print(text(f"{app}: no rollouts yet"))
        return
    title = text(f"rollouts of {app}")
    table = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for col in ("rollout", "release", "strategy", "state", "started", "took", "by", "outcome"):
        table.add_column(col)
    for r in rollouts:
        change = f"{r.from_release or '∅'} → {r.to_release}"
        table.add_row(
            text(r.rollout_id, one_line=True),
            text(change, one_line=True),
            text(r.strategy, one_line=True),
            text((r.state, _STATE_STYLE.get(r.state, "")), one_line=True),
            f"{r.started_at:%Y-%m-%d %H:%M:%S}" if r.started_at else "",
            duration(r.duration_seconds),
            text(r.owner, one_line=True),
            outcome_text(r),
        )
    out.print(table)


def outcome_text(r: RolloutRecord) -> Text:
    """The reason (or outcome), and below it the judge's evidence when one looked."""
    if r.judge is None:
        return text(r.reason or r.outcome)
    return text(r.reason or r.outcome, "\n", (f"judge {r.judge.summary}", "dim"))
