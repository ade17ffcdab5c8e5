"""Run every benchmark and print each figure on its own line: `name: value unit`.

    python benchmarks/run.py            # the sizes of issue 11 (several minutes)
    python benchmarks/run.py --quick    # small sizes, same figures (CI keeps them working)
    python benchmarks/run.py --only console tail

Each benchmark runs in its own process (so the console's memory is its own and a crash
stops only that benchmark); their figure lines are passed through as they come and their
progress goes to stderr. Exits 0 when every benchmark ran, 1 otherwise. Speed is never
judged here: RESULTS.md holds a full run next to the targets.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name -> (module, full-size arguments, --quick arguments)
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "console": (
        "benchmarks.console_bench",
        ["--rows", "5000", "--changes", "500", "--presses", "300", "--polls", "40"],
        ["--rows", "500", "--changes", "50", "--presses", "40", "--polls", "3"],
    ),
    "rollout": (
        "benchmarks.rollout_bench",
        ["--runs", "bluegreen:4", "bluegreen:100", "rolling:100", "canary:100"],
        ["--runs", "bluegreen:4", "rolling:2"],
    ),
    "judge": ("benchmarks.judge_bench", ["--windows", "1000"], ["--windows", "100"]),
    "tail": ("benchmarks.tail_bench", ["--seconds", "30"], ["--seconds", "4"]),
    "observer": (
        "benchmarks.observer_bench",
        ["--sizes", "1000", "5000", "--ticks", "3"],
        ["--sizes", "100", "--groups", "5", "--ticks", "2"],
    ),
}


def run_one(name: str, quick: bool) -> bool:
    """Run one benchmark in a child process, passing its figure lines through."""
    module, full, small = BENCHMARKS[name]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    started = time.monotonic()
    print(f"[bench] {name} ...", file=sys.stderr, flush=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *(small if quick else full)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        print(line.rstrip("\n"), flush=True)
    code = proc.wait()
    took = time.monotonic() - started
    status = "done" if code == 0 else f"FAILED (exit {code})"
    print(f"[bench] {name} {status} in {took:.0f} s", file=sys.stderr, flush=True)
    return code == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run freshfleet's benchmarks.")
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="just these")
    args = parser.parse_args(argv)
    results = [run_one(name, args.quick) for name in (args.only or list(BENCHMARKS))]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
