"""The judge's verdict: no verdict on too few requests, a rollback only on evidence that
accounts for sample size, and reasons that give the numbers."""

from __future__ import annotations

import dataclasses
import math

from rollout.judge.verdict import (
    GroupEvidence,
    JudgeSettings,
    VerdictKind,
    binomial_tail,
    judge,
    requests_for,
)

S = JudgeSettings()


def test_the_binomial_tail_is_exact():
    assert binomial_tail(0, 10, 0.3) == 1.0
    assert math.isclose(binomial_tail(10, 10, 0.5), 0.5**10)
    # P(X >= 2) for Bin(3, 0.5) = (3 + 1) / 8
    assert math.isclose(binomial_tail(2, 3, 0.5), 0.5)
    assert binomial_tail(5, 4, 0.5) == 0.0


def test_no_verdict_below_the_minimum_count_even_when_every_request_failed():
    v = judge(GroupEvidence(20, 20), GroupEvidence(1_000, 0), S)
    assert v.kind is VerdictKind.UNDECIDED and "needs 50" in v.reason


def test_a_canary_failing_a_fifth_of_its_requests_is_failed_with_the_numbers():
    v = judge(GroupEvidence(500, 91), GroupEvidence(1_000, 1), S)
    assert v.failed
    assert v.reason == "canary 5xx 18.2 % (91/500) vs baseline 0.1 % (1/1,000), p < 0.001"


def test_chance_on_a_small_canary_is_not_a_rollback():
    # 2 errors in 60 against 10 in 1,000: worse on its face, but well within chance.
    v = judge(GroupEvidence(60, 2), GroupEvidence(1_000, 10), S)
    assert v.kind is VerdictKind.PASS, v.reason


def test_a_significant_but_tiny_gap_is_not_a_rollback():
    v = judge(GroupEvidence(200_000, 300), GroupEvidence(2_000_000, 2_000), S)
    assert v.p_value < S.alpha and v.kind is VerdictKind.PASS  # 0.15 % vs 0.10 %


def test_a_ten_times_slower_release_fails_on_latency_and_says_which_statistic():
    slow = GroupEvidence(600, 0, 120.0, "p99")
    base = GroupEvidence(3_000, 0, 12.0, "p99")
    v = judge(slow, base, S, label="new group")
    assert v.failed and "latency 120 ms vs baseline 12 ms (10.0×) (p99)" in v.reason
    assert not judge(GroupEvidence(600, 0, 20.0, "p99"), base, S).failed  # 8 ms is noise


def test_a_percentile_of_a_few_requests_is_not_judged_it_is_their_slowest():
    # Twenty requests a side, one slow answer on a busy host: the window's "p99" is that
    # answer. No rollback; the reason says latency waits for its 500 requests.
    noisy, base = GroupEvidence(20, 0, 63.0, "p99"), GroupEvidence(20, 0, 15.0, "p99")
    v = judge(noisy, base, dataclasses.replace(S, min_requests=20))
    assert v.kind is VerdictKind.PASS, v.reason
    assert "latency not judged yet (p99 needs 500 requests each)" in v.reason
    # A p90 needs fifty: with them, a tenfold slower group fails.
    p90 = dataclasses.replace(S, min_requests=20, latency_percentile=90.0)
    assert requests_for("p90") == 50 and requests_for("average") == 1
    slow = judge(GroupEvidence(50, 0, 100.0, "p90"), GroupEvidence(50, 0, 10.0, "p90"), p90)
    assert slow.failed and "(p90)" in slow.reason


def test_windows_add_up():
    a = GroupEvidence(100, 1, 10.0, "average").plus(GroupEvidence(300, 3, 20.0, "average"))
    assert (a.requests, a.errors, a.latency_ms) == (400, 4, 17.5)
    p = GroupEvidence(100, 0, 10.0, "p99").plus(GroupEvidence(300, 0, 30.0, "p99"))
    assert p.latency_ms == 25.0  # an estimate: weighted by requests
