"""`benchmarks/run.py --quick` keeps working: every figure is printed and parseable.

Speed is judged in benchmarks/RESULTS.md, never here: this test asserts only that the
command runs to the end and says each figure the issue names, as `name: value unit`.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIGURE = re.compile(r"^(?P<name>[a-z0-9_]+): (?P<value>-?[0-9.]+|nan) (?P<unit>\S+)$")

# The figures of issue 11, at the sizes --quick uses.
EXPECTED = {
    "observer_calls_100": "calls",
    "observer_cpu_ms_100": "ms",
    "loop_stall_max_100": "ms",
    "first_frame_ms_500": "ms",
    "key_latency_p99_500": "ms",
    "repaint_ms_500": "ms",
    "repaint_p50_ms_500": "ms",
    "repaint_p95_ms_500": "ms",
    "rss_mb_500": "MB",
    "rollout_s_bluegreen_4": "s",
    "rollout_s_rolling_2": "s",
    "rollout_critical_path_s": "s",
    "tail_cpu_pct": "%",
    "judge_false_rollback_pct": "%",
    "judge_detect_pct": "%",
    "judge_verdict_s_p50": "s",
}


def test_quick_benchmarks_print_every_figure_as_name_value_unit() -> None:
    run = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert run.returncode == 0, run.stderr[-4000:]

    lines = run.stdout.splitlines()
    unparsed = [line for line in lines if not FIGURE.match(line)]
    assert unparsed == [], f"lines that are not `name: value unit`: {unparsed}"
    figures = {m["name"]: (float(m["value"]), m["unit"]) for m in map(FIGURE.match, lines) if m}
    for name, unit in EXPECTED.items():
        assert name in figures, f"{name} was not printed; got {sorted(figures)}"
        value, printed_unit = figures[name]
        assert printed_unit == unit, f"{name} is in {printed_unit}, not {unit}"
        assert not math.isnan(value), f"{name} could not be measured"
