"""The judge's verdict: is the new group worse than its baseline, given what was seen?

Errors: a one-sided exact test conditioned on the total number of 5xx answers. If both
groups failed at the same rate, each 5xx would land in the new group with probability
n_new / (n_new + n_base), so the new group's count is Binomial(errors, that share); the
p-value is the chance of seeing at least as many there. A verdict needs `min_requests` on
each side, a p-value below `alpha` (the false-alarm rate of one look) and a gap of at least
`min_error_delta_points`, so a tiny but significant difference never rolls back.
Latency: the window's `latency_percentile` (p99 by default) where the metrics give
percentiles, else the average (and the reason says which): worse when the new group's is both
`latency_ratio` times and `min_latency_delta_ms` above the baseline's. A percentile is judged
only when each side has at least `TAIL_REQUESTS` requests beyond it (500 for a p99, 50 for a
p90): below that the "p99" of a window is its slowest request or two, and one slow answer on a
busy host is no evidence that a release is slower.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class JudgeSettings:
    """What it takes to roll back on evidence (config `[judge]`)."""

    enabled: bool = True
    min_requests: int = 50
    alpha: float = 0.001
    min_error_delta_points: float = 1.0
    latency_ratio: float = 2.0
    min_latency_delta_ms: float = 25.0
    latency_percentile: float = 99.0  # the TargetResponseTime percentile compared
    period_seconds: int = 60  # CloudWatch's period for the ALB metrics (1 s on localaws)
    look_seconds: float = 10.0  # how often a watch reads the metrics (each look is one call)


@dataclass(frozen=True, slots=True)
class GroupEvidence:
    """One group's requests over a window, as the load balancer counted them."""

    requests: int = 0
    errors: int = 0  # target 5xx answers
    latency_ms: float | None = None
    latency_stat: str = ""  # "p99" (a percentile) or "average"

    @property
    def error_pct(self) -> float:
        return 100.0 * self.errors / self.requests if self.requests else 0.0

    def describe(self, *, name: bool = True) -> str:
        """`5xx 18.2 % (91/500), p99 40 ms`; without `name`, the share alone leads."""
        text = f"{'5xx ' if name else ''}{self.error_pct:.1f} % ({self.errors:,}/{self.requests:,})"
        if self.latency_ms is not None:
            text += f", {self.latency_stat} {self.latency_ms:.0f} ms"
        return text

    def plus(self, other: GroupEvidence) -> GroupEvidence:
        """Two windows as one: counts add, latency weighted by requests (for a percentile,
        an estimate: percentiles of two windows do not combine exactly)."""
        if other.requests == 0:
            return self
        if self.requests == 0:
            return other
        latency = self.latency_ms
        if other.latency_ms is not None:
            if latency is None:
                latency = other.latency_ms
            else:
                total = self.requests + other.requests
                latency = (latency * self.requests + other.latency_ms * other.requests) / total
        return GroupEvidence(
            self.requests + other.requests,
            self.errors + other.errors,
            latency,
            self.latency_stat or other.latency_stat,
        )


class VerdictKind(StrEnum):
    UNDECIDED = "undecided"  # not enough requests yet
    PASS = "pass"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the judge says now, with the numbers behind it."""

    kind: VerdictKind
    reason: str
    candidate: GroupEvidence
    baseline: GroupEvidence
    p_value: float = 1.0

    @property
    def failed(self) -> bool:
        return self.kind is VerdictKind.FAIL


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p), summed in log space (exact for any n)."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(n + 1)
        - math.lgamma(i + 1)
        - math.lgamma(n - i + 1)
        + i * log_p
        + (n - i) * log_q
        for i in range(k, n + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def judge(
    candidate: GroupEvidence,
    baseline: GroupEvidence,
    settings: JudgeSettings,
    *,
    label: str = "canary",
) -> Verdict:
    """Compare `candidate` (the new group) with `baseline` over the same window."""
    if candidate.requests < settings.min_requests or baseline.requests < settings.min_requests:
        need = settings.min_requests
        return Verdict(
            VerdictKind.UNDECIDED,
            f"waiting for evidence: {label} {candidate.requests:,} and baseline "
            f"{baseline.requests:,} requests (a verdict needs {need:,} each)",
            candidate,
            baseline,
        )
    errors = candidate.errors + baseline.errors
    share = candidate.requests / (candidate.requests + baseline.requests)
    p = binomial_tail(candidate.errors, errors, share) if errors else 1.0
    gap = candidate.error_pct - baseline.error_pct
    if p < settings.alpha and gap >= settings.min_error_delta_points:
        return Verdict(
            VerdictKind.FAIL,
            f"{label} {candidate.describe()} vs baseline {baseline.describe(name=False)}, "
            f"{_p_text(p)}",
            candidate,
            baseline,
            p,
        )
    slow = _slower(candidate, baseline, settings)
    if slow:
        return Verdict(
            VerdictKind.FAIL,
            f"{label} {slow} ({candidate.latency_stat}); 5xx {candidate.error_pct:.1f} % vs "
            f"{baseline.error_pct:.1f} %",
            candidate,
            baseline,
            p,
        )
    unjudged = _latency_unjudged(candidate, baseline)
    return Verdict(
        VerdictKind.PASS,
        f"{label} {candidate.describe()} vs baseline {baseline.describe(name=False)}: "
        f"no worse ({_p_text(p)}){unjudged}",
        candidate,
        baseline,
        p,
    )


TAIL_REQUESTS = 5  # requests beyond a percentile before it is judged


def requests_for(stat: str) -> int:
    """How many requests a window needs before its `stat` says anything: a percentile needs
    `TAIL_REQUESTS` beyond it (p99: 500); an average, one."""
    if not stat.startswith("p"):
        return 1
    beyond = 1.0 - float(stat[1:]) / 100.0
    # Rounded first: 1 - 0.9 is 0.09999…, and 5 / that would ask for a 51st request.
    return math.ceil(round(TAIL_REQUESTS / beyond, 6)) if beyond > 0 else 1_000_000_000


def _latency_judged(candidate: GroupEvidence, baseline: GroupEvidence) -> bool:
    need = requests_for(candidate.latency_stat or baseline.latency_stat)
    return min(candidate.requests, baseline.requests) >= need


def _latency_unjudged(candidate: GroupEvidence, baseline: GroupEvidence) -> str:
    if candidate.latency_ms is None or baseline.latency_ms is None:
        return ""
    if _latency_judged(candidate, baseline):
        return ""
    stat = candidate.latency_stat or baseline.latency_stat
    return f"; latency not judged yet ({stat} needs {requests_for(stat):,} requests each)"


def _slower(candidate: GroupEvidence, baseline: GroupEvidence, s: JudgeSettings) -> str:
    if candidate.latency_ms is None or baseline.latency_ms is None:
        return ""
    if not _latency_judged(candidate, baseline):
        return ""
    if (
        candidate.latency_ms >= s.latency_ratio * baseline.latency_ms
        and candidate.latency_ms - baseline.latency_ms >= s.min_latency_delta_ms
    ):
        ratio = candidate.latency_ms / max(baseline.latency_ms, 0.001)
        return (
            f"latency {candidate.latency_ms:.0f} ms vs baseline {baseline.latency_ms:.0f} ms "
            f"({ratio:.1f}×)"
        )
    return ""
