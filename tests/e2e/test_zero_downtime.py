"""Zero downtime, proven with real traffic: 50 requests/s through the demo's local ALB while
freshfleet, in real boot mode (the boot agent and Docker per instance), deploys v2, v1 and
v2 again, fails a v3 rollout, rolls a deploy back during its bake, and runs a canary. Not
one request fails; the version answered changes once per shift and never flips back and
forth (except a canary's share, and the rollback's one flip back).

Figures (requests, failures, the version runs, p50/p99 latency before/during/after) are
printed and recorded in docs/RELIABILITY.md.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from localaws.process import LocalAws
from tests.e2e.conftest import demo_containers, freshfleet
from tests.e2e.load import Load, between, failures, latency_ms, version_runs
from tests.rollout.conftest import Fleet

# The whole run: about 8 minutes on a loaded 2-core machine.
pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

RATE = 50.0


def _step(fleet: Fleet) -> str:
    rollouts = fleet.rollouts()
    if not rollouts or rollouts[-1]["state"] != "running":
        return ""
    steps = rollouts[-1].get("steps") or []
    return str(steps[-1]["name"]) if steps else ""


def test_no_request_fails_through_real_rollouts_failures_a_rollback_and_a_canary(
    real_localaws: LocalAws,
    real_fleet: Fleet,
    docker_engine: Any,
    eventually: Any,
    tmp_path: Path,
) -> None:
    fleet = real_fleet
    alb = real_localaws.albs["demo-web"] + "/"
    fleet.wait_serving_healthy(3, within=300)
    phases: list[tuple[str, float, float, int]] = []  # name, start, end, exit code

    with Load(alb, rate=RATE, max_seconds=540) as load:
        load.wait_for(int(RATE * 3))  # a baseline before anything moves
        first = load.mark("first deploy")

        def deploy(name: str, *args: str) -> int:
            start = load.now()
            run = freshfleet(fleet, *args)
            phases.append((name, start, load.now(), run.returncode))
            print(f"{name}: exit {run.returncode}\n{run.stdout[-1500:]}{run.stderr[-1500:]}")
            return run.returncode

        assert deploy("deploy v2", "deploy", "demo-web", "v2", "-y") == 0
        assert deploy("deploy v1", "deploy", "demo-web", "v1", "-y") == 0
        assert deploy("deploy v2 again", "deploy", "demo-web", "v2", "-y") == 0
        assert deploy("deploy v3 (never healthy)", "deploy", "demo-web", "v3", "-y") == 1

        # A rollback from another terminal while the deploy of v1 bakes.
        start = load.now()
        log = tmp_path / "deploy-v1.log"
        with log.open("w") as sink:
            argv = ["deploy", "demo-web", "v1", "-y", "--bake", "120"]
            baking = subprocess.Popen(
                [sys.executable, "-m", "console.main", *argv],
                env={**os.environ, **fleet.env},
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
            try:

                def bakes() -> bool:
                    if baking.poll() is not None:
                        pytest.fail(f"the deploy ended before its bake: {log.read_text()[-3000:]}")
                    return _step(fleet) == "bake"

                eventually(bakes, within=300, what="the bake of v1")
                rolled = freshfleet(fleet, "rollback", "demo-web", "-y")
            finally:
                baking.wait(300)
        phases.append(("rollback during the bake", start, load.now(), baking.returncode))
        print(f"rollback: {rolled.stdout}{rolled.stderr}\ndeploy: {log.read_text()[-1500:]}")
        assert rolled.returncode == 0 and baking.returncode == 1
        assert fleet.latest()["state"] == "rolled_back"

        assert deploy("canary v1", "deploy", "demo-web", "v1", "-y", "--strategy", "canary") == 0
        last = load.mark("after")
        load.wait_for(len(load.samples) + int(RATE * 3))
    samples = load.samples

    figures = {
        "machine": f"{platform.machine()}, {_cpus()} CPUs, Linux {platform.release()}",
        "sent": len(samples),
        "failed": len(failures(samples)),
        "version changes": len(version_runs(samples)) - 1,
        "before": _p50_p99(between(samples, 0, first)),
        "during": _p50_p99(between(samples, first, last)),
        "after": _p50_p99(between(samples, last, load.now() + 60)),
    }
    print("\nzero-downtime figures:")
    for key, value in figures.items():
        print(f"  {key}: {value}")
    for name, start, end, code in phases:
        during = between(samples, start, end)
        p50, p99 = latency_ms(during)
        runs = " → ".join(version_runs(during))
        print(
            f"  {name}: exit {code}, {len(during)} requests, {runs},"
            f" p50 {p50:.0f} ms p99 {p99:.0f} ms"
        )

    assert failures(samples) == []
    expected = {
        "deploy v2": ["v1", "v2"],
        "deploy v1": ["v2", "v1"],
        "deploy v2 again": ["v1", "v2"],
        "deploy v3 (never healthy)": ["v2"],
        "rollback during the bake": ["v2", "v1", "v2"],
    }
    for name, start, end, _ in phases:
        runs = version_runs(between(samples, start, end))
        if name in expected:
            assert runs == expected[name], f"{name}: {runs}"
        else:  # the canary: v2, a share of v1 for the watch, then v1 alone
            assert runs[0] == "v2" and runs[-1] == "v1" and set(runs) == {"v1", "v2"}, runs
    assert version_runs(between(samples, last, load.now() + 60)) == ["v1"]
    eventually(
        lambda: set(demo_containers(docker_engine, real_localaws).values()) == {"v1"},
        within=60,
        what="only v1's containers left",
    )
    assert fleet.leftovers() == []


def _p50_p99(samples: list[Any]) -> str:
    p50, p99 = latency_ms(samples)
    return f"{len(samples)} requests, p50 {p50:.0f} ms, p99 {p99:.0f} ms"


def _cpus() -> int:
    import os

    return os.cpu_count() or 0
