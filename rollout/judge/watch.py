"""The judge at work during a canary watch or a bake: one look per tick, at most every
`look_seconds`, over the evidence since the watch began.

The candidate is the new group; the baseline is the group it replaces, over the same window
while it still takes traffic. In a blue-green bake the old group takes none, so its baseline
is the same length of time just before the shift (the reason says so). A failing verdict, or
a named alarm in ALARM, is the rollout's reason to roll back.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from rollout.aws.gateway import AwsError, Gateway
from rollout.judge.alarms import alarms_in_alarm
from rollout.judge.evidence import read_evidence
from rollout.judge.verdict import JudgeSettings, Verdict, VerdictKind, judge


@dataclass
class RolloutJudge:
    """Judges `candidate` against `baseline` (target group ARNs) from `started` on."""

    gw: Gateway
    settings: JudgeSettings
    load_balancer_arn: str
    candidate: str
    baseline: str
    label: str = "canary"
    candidate_group: str = ""  # the groups' names, for the faces
    baseline_group: str = ""
    alarms: Sequence[str] = ()
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    baseline_until: datetime | None = None  # the shift, when the baseline left traffic then
    last: Verdict | None = None
    _next_look: float = 0.0

    @property
    def active(self) -> bool:
        return self.settings.enabled and bool(self.baseline) and bool(self.load_balancer_arn)

    async def look(self) -> Verdict | None:
        """The verdict now, or None between looks (and when judging is off or impossible).
        A transient AWS error is no look: the previous verdict stands."""
        now_mono = time.monotonic()
        if not self.active or now_mono < self._next_look:
            return None
        self._next_look = now_mono + self.settings.look_seconds
        now = datetime.now(UTC)
        try:
            firing = await alarms_in_alarm(self.gw, self.alarms)
            evidence = await read_evidence(
                self.gw,
                self.load_balancer_arn,
                [self.candidate, self.baseline],
                self.started,
                now,
                self.settings.period_seconds,
                self.settings.latency_percentile,
            )
            base = evidence[self.baseline]
            base_note = ""
            # Once the baseline has left traffic, what it still answers (requests in flight at
            # the shift) is no window of its own: its evidence is the same span before the shift.
            if self.baseline_until is not None:
                span = now - self.started
                before = await read_evidence(
                    self.gw,
                    self.load_balancer_arn,
                    [self.baseline],
                    self.baseline_until - max(span, timedelta(seconds=self.settings.look_seconds)),
                    self.baseline_until,
                    self.settings.period_seconds,
                    self.settings.latency_percentile,
                )
                base = base.plus(before[self.baseline])
                base_note = " (baseline: the same time before the shift)"
        except AwsError:
            return None
        if firing:
            name, why = firing[0]
            self.last = Verdict(
                VerdictKind.FAIL, f"alarm {name} is in ALARM: {why}", evidence[self.candidate], base
            )
            return self.last
        verdict = judge(evidence[self.candidate], base, self.settings, label=self.label)
        if base_note:
            verdict = Verdict(
                verdict.kind,
                verdict.reason + base_note,
                verdict.candidate,
                verdict.baseline,
                verdict.p_value,
            )
        self.last = verdict
        return verdict
