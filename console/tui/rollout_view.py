"""A rollout's state as the rollout screen shows it, folded from the engine's events.

Pure (no Textual): `RolloutView.apply(event)` for every `RolloutEvent`, then the screen
reads steps with timings, per-instance progress, weights, ETA, bake countdown, the failure,
the healthy-target history of each server group and, from the judge's looks, each judged
group's traffic (requests/s, 5xx %, latency) and the judge's last verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rollout.events import (
    BakeProgress,
    GateProgress,
    InstanceUpdate,
    JudgeVerdict,
    Notice,
    RolloutEvent,
    RolloutFailed,
    RolloutFinished,
    StepFinished,
    StepStarted,
    WeightsChanged,
)
from rollout.ledger.rollout_item import JudgeEvidence
from rollout.ledger.vocabulary import StepName, StepStatus
from rollout.model import HealthState, InstanceView, Phase

# How far a boot has come, by its last phase (no phase yet: not started).
_BOOT_ORDER: dict[Phase | None, int] = {p: n for n, p in enumerate(Phase, 1)}


@dataclass
class StepLine:
    name: str
    detail: str
    started: datetime
    finished: datetime | None = None
    status: str = StepStatus.RUNNING

    def seconds(self, now: datetime) -> float:
        return ((self.finished or now) - self.started).total_seconds()


@dataclass
class TrafficSeries:
    """One judged group's traffic, one point a look: requests/s and 5xx % between looks
    (from the window's running counts), latency as the window's statistic."""

    rps: list[float] = field(default_factory=list)
    error_pct: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    latency_stat: str = ""
    _requests: int = 0
    _errors: int = 0
    _window: float = 0.0

    def add(self, requests: int, errors: int, latency: float | None, window: float) -> None:
        """One look's running totals over `window` seconds. A total that went back (a new
        window: the bake after the canary watch, or a baseline read afresh) starts again."""
        if requests < self._requests or window < self._window:
            self._requests, self._errors, self._window = 0, 0, 0.0
        seconds = window - self._window
        new, bad = requests - self._requests, errors - self._errors
        if seconds > 0:
            self.rps.append(new / seconds)
            self.error_pct.append(100.0 * bad / new if new > 0 else 0.0)
            if latency is not None:
                self.latency_ms.append(latency)
            for series in (self.rps, self.error_pct, self.latency_ms):
                del series[:-120]
        self._requests, self._errors, self._window = requests, errors, window


@dataclass
class RolloutView:
    """Everything the rollout screen shows, updated one event at a time."""

    app: str
    rollout_id: str
    steps: list[StepLine] = field(default_factory=list)
    instances: dict[str, InstanceView] = field(default_factory=dict)
    weights: dict[str, int] = field(default_factory=dict)
    gate: GateProgress | None = None
    bake: BakeProgress | None = None
    notices: list[str] = field(default_factory=list)
    failure: RolloutFailed | None = None
    finished: RolloutFinished | None = None
    healthy_history: dict[str, list[int]] = field(default_factory=dict)
    judge: JudgeEvidence | None = None  # the judge's last verdict
    traffic: dict[str, TrafficSeries] = field(default_factory=dict)

    def apply(self, event: RolloutEvent) -> None:
        if isinstance(event, StepStarted):
            self.steps.append(StepLine(event.step, event.detail, event.at))
        elif isinstance(event, StepFinished):
            for step in reversed(self.steps):
                if step.name == event.step and step.finished is None:
                    step.finished, step.status = event.at, event.status
                    if event.detail:
                        step.detail = event.detail
                    break
        elif isinstance(event, InstanceUpdate):
            self.instances[event.instance.instance_id] = event.instance
        elif isinstance(event, GateProgress):
            self.gate = event
            self._record(event.group, event.healthy)
        elif isinstance(event, BakeProgress):
            self.bake = event
            self._record(event.group, event.healthy)
        elif isinstance(event, WeightsChanged):
            self.weights = dict(event.weights)
            for group in event.weights:
                self.healthy_history.setdefault(group, [])
        elif isinstance(event, JudgeVerdict):
            self._judged(event)
        elif isinstance(event, Notice):
            self.notices.append(f"{event.level}: {event.message}")
        elif isinstance(event, RolloutFailed):
            self.failure = event
        elif isinstance(event, RolloutFinished):
            self.finished = event

    def _judged(self, event: JudgeVerdict) -> None:
        evidence = self.judge = event.evidence
        sides = (
            (
                event.candidate_group,
                evidence.candidate_requests,
                evidence.candidate_errors,
                evidence.candidate_latency_ms,
            ),
            (
                event.baseline_group,
                evidence.baseline_requests,
                evidence.baseline_errors,
                evidence.baseline_latency_ms,
            ),
        )
        for group, requests, errors, latency in sides:
            if not group:
                continue
            series = self.traffic.setdefault(group, TrafficSeries())
            series.latency_stat = evidence.latency_stat
            series.add(requests, errors, latency, event.window_seconds)

    def _record(self, group: str, healthy: int) -> None:
        # Keep the other groups' lines moving too, so the moment traffic moved lines up.
        history = self.healthy_history.setdefault(group, [])
        history.append(healthy)
        del history[:-120]

    @property
    def running(self) -> bool:
        return self.finished is None

    def failing_instance(self) -> str:
        """The instance whose log tail explains the failure, or ""."""
        failed = [i for i in self.instances.values() if i.failed]
        return failed[0].instance_id if failed else ""

    def instance_to_watch(self, current: str = "") -> str:
        """The instance the log pane follows: a failing one; else `current` while it is
        not healthy yet; else the slowest not yet healthy (least far in its boot); else
        `current` (the pane keeps what it showed)."""
        failing = self.failing_instance()
        if failing:
            return failing
        waiting = [i for i in self.instances.values() if i.health is not HealthState.HEALTHY]
        if any(i.instance_id == current for i in waiting):
            return current
        if waiting:
            slowest = min(waiting, key=lambda i: (_BOOT_ORDER.get(i.phase, 0), i.instance_id))
            return slowest.instance_id
        return current

    @property
    def current_step(self) -> StepLine | None:
        """The step running now (the last one started and not finished), if any."""
        running = [s for s in self.steps if s.finished is None]
        return running[-1] if running and self.running else None

    def headline(self, now: datetime) -> str:
        """The step running now and how it stands: healthy count, the time left to its
        deadline (gate) or its end (bake, watch), and the ETA while past boots make one.

        `gate: 1/3 healthy · 95 s left of 120 s · ETA ~ 20 s`, `bake: 3/3 healthy · 25 s
        left`, `retire · 4 s`; "" when nothing runs."""
        step = self.current_step
        if step is None:
            return ""
        gate, bake = self.gate, self.bake
        if gate is not None and step.name == StepName.GATE and gate.at >= step.started:
            since = max(0.0, (now - gate.at).total_seconds())
            elapsed = gate.elapsed_seconds + since
            left = max(0.0, gate.deadline_seconds - elapsed)
            text = f"gate: {gate.healthy}/{gate.wanted} healthy"
            if gate.deadline_seconds:
                text += f" · {left:.0f} s left of {gate.deadline_seconds:.0f} s"
            eta = None if gate.eta_seconds is None else gate.eta_seconds - since
            if eta is not None and eta >= 1 and gate.healthy < gate.wanted:
                text += f" · ETA ~ {eta:.0f} s"  # past boots say so; once overdue, no guess
            return text
        if (
            bake is not None
            and step.name in (StepName.BAKE, StepName.WATCH)
            and bake.at >= step.started
        ):
            left = max(0.0, bake.remaining_seconds - (now - bake.at).total_seconds())
            return f"{step.name}: {bake.healthy}/{bake.wanted} healthy · {left:.0f} s left"
        return f"{step.name} · {step.seconds(now):.0f} s"


def traffic_line(series: TrafficSeries) -> str:
    """`12 req/s · 5xx 0.0 % · p90 107 ms`: a judged group's latest point."""
    if not series.rps:
        return "no requests seen yet"
    text = f"{series.rps[-1]:.0f} req/s · 5xx {series.error_pct[-1]:.1f} %"
    if series.latency_ms:
        text += f" · {series.latency_stat} {series.latency_ms[-1]:.0f} ms"
    return text


def summarise(reason: str, width: int = 60) -> str:
    """A long reason's gist for the places that are not where it is shown whole: its first
    clause, cut to `width` characters."""
    head = reason.split(": ", 1)[0] if len(reason) > width else reason
    return head if len(head) <= width else head[: width - 1] + "…"
