"""Where a running rollout meets its judge: which groups a watch compares, and what a look
does with its verdict (an event for the faces, a line on the ledger, a rollback on FAIL)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rollout.errors import RolloutStop
from rollout.events import JudgeVerdict
from rollout.judge.verdict import Verdict
from rollout.judge.watch import RolloutJudge
from rollout.ledger.codec import ItemValue
from rollout.ledger.rollout_item import judge_of
from rollout.ledger.vocabulary import StepName

if TYPE_CHECKING:
    from rollout.deploy.runner import Rollout
    from rollout.model import ServerGroup


def judge_for(r: Rollout, group: ServerGroup, what: str) -> RolloutJudge | None:
    """The judge of one watch (`canary watch` or `bake`) of `group`; None when judging is
    off, or there is no baseline (an app's first deploy)."""
    settings = r.config.judge
    old = r.plan.old_group
    if not settings.enabled or old is None or not r.plan.traffic.load_balancer_arn:
        return None
    canary = what.startswith("canary")
    return RolloutJudge(
        gw=r.gw,
        settings=settings,
        load_balancer_arn=r.plan.traffic.load_balancer_arn,
        candidate=group.target_group_arn,
        baseline=old.target_group_arn,
        label="canary" if canary else "new group",
        candidate_group=group.name,
        baseline_group=old.name,
        alarms=r.config.alarms.get(r.app, ()),
        baseline_until=None if canary else _last_shift(r),
    )


def _last_shift(r: Rollout) -> datetime | None:
    shifts = [s for s in r.steps if s.name == StepName.SHIFT and s.finished_at]
    return shifts[-1].finished if shifts else None


async def look(r: Rollout, judge: RolloutJudge | None, what: str) -> None:
    """One look: emit the verdict, keep it on the ledger, roll back when it fails."""
    if judge is None:
        return
    verdict = await judge.look()
    if verdict is None:
        return
    item = verdict_item(verdict, what)
    r.emit(JudgeVerdict, **verdict_fields(item, judge))
    await r.ledger.update(r.app, r.rollout_id, judge=item)
    if verdict.failed:
        raise RolloutStop(f"the judge during the {what}: {verdict.reason}", rollback=True)


def verdict_fields(item: Mapping[str, ItemValue], judge: RolloutJudge) -> dict[str, Any]:
    """The JudgeVerdict event of one look: the evidence exactly as the ledger keeps it
    (`item`, read back by `judge_of`), the groups compared and the window's age."""
    return {
        "evidence": judge_of(item),
        "candidate_group": judge.candidate_group,
        "baseline_group": judge.baseline_group,
        "window_seconds": (datetime.now(judge.started.tzinfo) - judge.started).total_seconds(),
    }


def verdict_item(verdict: Verdict, what: str) -> dict[str, ItemValue]:
    """The verdict as the rollout's ledger item keeps it (`judge`): the final evidence."""
    c, b = verdict.candidate, verdict.baseline
    return {
        "verdict": str(verdict.kind),
        "reason": verdict.reason,
        "during": what,
        "candidate": {"requests": c.requests, "errors": c.errors, "latency_ms": c.latency_ms},
        "baseline": {"requests": b.requests, "errors": b.errors, "latency_ms": b.latency_ms},
        "latency_stat": c.latency_stat or b.latency_stat,
        "p_value": verdict.p_value,
    }
