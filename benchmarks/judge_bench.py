"""The judge replayed on generated windows: how often it rolls back a good release, how often
and how fast it catches a bad one.

Each window is a canary watch as the engine runs it: traffic at `--rps` through the load
balancer, the canary taking `--share` %, a look every `--tick` s over the evidence since the
watch began, for `--watch` s. Requests and 5xx answers per tick are drawn at random (a fixed
seed, so runs compare). A good release fails as often as its baseline (`--base-pct`, 0.1 % by
default, a healthy service's share); a bad one `--worse-points` more. The same figures for a
noisy baseline of 1 % carry the suffix `_base1`.

Figures: judge_false_rollback_pct (good windows that any look failed), judge_detect_pct (bad
windows failed within the watch), judge_verdict_s_p50 (when a bad window was failed), and
judge_cpu_us_per_look.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from benchmarks.figures import figure
from rollout.judge.verdict import GroupEvidence, JudgeSettings, judge


def _draw(rng: random.Random, rate: float, seconds: float, error_pct: float) -> tuple[int, int]:
    """Requests in `seconds` at `rate`/s (Poisson) and how many of them answered 5xx."""
    expected = rate * seconds
    n = (
        max(0, round(rng.gauss(expected, expected**0.5)))
        if expected > 30
        else _poisson(rng, expected)
    )
    errors = sum(1 for _ in range(n) if rng.random() * 100 < error_pct)
    return n, errors


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method: fine for the small means of a canary's tick.
    limit, k, p = pow(2.718281828459045, -lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def replay(
    rng: random.Random, settings: JudgeSettings, args: argparse.Namespace, worse: float
) -> tuple[float | None, int]:
    """One watch: the seconds into it at which a look failed it (None if none), and looks."""
    canary, base = GroupEvidence(latency_stat="average"), GroupEvidence(latency_stat="average")
    share = args.share / 100
    looks = 0
    t = 0.0
    while t < args.watch:
        t += args.tick
        n, e = _draw(rng, args.rps * share, args.tick, args.base_pct + worse)
        canary = canary.plus(GroupEvidence(n, e, None, "average"))
        n, e = _draw(rng, args.rps * (1 - share), args.tick, args.base_pct)
        base = base.plus(GroupEvidence(n, e, None, "average"))
        looks += 1
        if judge(canary, base, settings).failed:
            return t, looks
    return None, looks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--windows", type=int, default=1000)
    parser.add_argument("--rps", type=float, default=20.0)
    parser.add_argument("--share", type=float, default=10.0)
    parser.add_argument("--watch", type=float, default=120.0)
    parser.add_argument("--tick", type=float, default=2.0)
    parser.add_argument("--base-pct", type=float, default=0.1)
    parser.add_argument("--worse-points", type=float, default=5.0)
    args = parser.parse_args()
    settings = JudgeSettings()
    looks, cpu0, started = 0, time.process_time(), time.perf_counter()
    for suffix, base in (("", args.base_pct), ("_base1", 1.0)):
        args.base_pct = base
        rng = random.Random(20261202)
        false = 0
        for _ in range(args.windows):
            at, n = replay(rng, settings, args, 0.0)
            false += at is not None
            looks += n
        caught: list[float] = []
        for _ in range(args.windows):
            at, n = replay(rng, settings, args, args.worse_points)
            looks += n
            if at is not None:
                caught.append(at)
        figure(f"judge_false_rollback_pct{suffix}", 100 * false / args.windows, "%")
        figure(f"judge_detect_pct{suffix}", 100 * len(caught) / args.windows, "%")
        median = statistics.median(caught) if caught else float("nan")
        figure(f"judge_verdict_s_p50{suffix}", median, "s")
    figure("judge_cpu_us_per_look", (time.process_time() - cpu0) * 1e6 / max(looks, 1), "us")
    figure("judge_wall_s", time.perf_counter() - started, "s")


if __name__ == "__main__":
    main()
