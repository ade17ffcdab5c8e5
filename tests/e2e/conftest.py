"""End-to-end fixtures: a real-mode localaws (the real boot agent and Docker per instance)
shared by a module's tests, the `freshfleet` CLI as a second terminal runs it, and the
rollout tests' `Fleet` (what a person checks: weights, groups, ledger, lock, leftovers).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localaws.process import LocalAws, start_localaws
from localaws.testing import FAST_TIMERS

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `tests.rollout.conftest` is imported as a module of helpers
    sys.path.insert(0, str(REPO))

# The rollout tests' fixtures, reused as they are: `fleet` (a fresh simulated demo with fast
# rollout timers), `slow_fleet` (boots of ~4 s: time to act mid-gate) and `until`.
from tests.rollout.conftest import Fleet, fleet, slow_fleet, until  # noqa: E402, F401

# Real-mode rollout timers: boots take seconds, so the gate waits long; bakes stay short.
REAL_ROLLOUT_ENV = {
    "FRESHFLEET_ROLLOUT__BAKE_SECONDS": "3",
    "FRESHFLEET_ROLLOUT__GATE_DEADLINE_SECONDS": "240",
    "FRESHFLEET_ROLLOUT__CANARY_WATCH_SECONDS": "4",
    "FRESHFLEET_ROLLOUT__POLL_SECONDS": "0.5",
}


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Any]:
    """A Docker engine that answers (the `docker` mark fails the test in CI without one)."""
    import docker

    client = docker.from_env(timeout=300)
    yield client
    client.close()


@pytest.fixture(scope="session")
def real_localaws(
    docker_engine: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalAws]:
    """localaws in real boot mode with the demo seed, shared by the e2e tests in turn.

    The base image is built once per machine (ensure_base_image reuses it). The agent's
    health phase gives up after 15 s so a never-healthy release fails its boot quickly.
    """
    from bootscript.baseimage import ensure_base_image

    ensure_base_image(docker_engine)
    directory = tmp_path_factory.mktemp("real-localaws")
    with start_localaws(
        port=0,
        boot="real",
        endpoint_file=directory / "localaws.json",
        env={
            **FAST_TIMERS,
            "FRESHFLEET_LOCALAWS_DIR": str(directory),
            "LOCALAWS_AGENT_HEALTH_TIMEOUT": "15",
            "LOCALAWS_AGENT_FETCH_ATTEMPTS": "2",  # a missing release fails its fetch quickly
        },
        ready_timeout=240,
    ) as handle:
        assert handle.boot_mode == "real", handle.boot_reason
        yield handle


@pytest.fixture(scope="session")
def real_fleet(real_localaws: LocalAws) -> Fleet:
    """The rollout tests' Fleet on the real-mode localaws; its `spawn` runs the CLI there."""
    from rollout.config import load_config

    env = {**REAL_ROLLOUT_ENV, "FRESHFLEET_ENDPOINT_FILE": str(real_localaws.endpoint_file)}
    return Fleet(url=real_localaws.url, config=load_config(), env=env)


def freshfleet(on: Fleet, *args: str, timeout: float = 420) -> subprocess.CompletedProcess[str]:
    """`freshfleet ARGS` in a second terminal that finds localaws by its endpoint file."""
    return subprocess.run(
        [sys.executable, "-m", "console.main", *args],
        env={**os.environ, **on.env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def demo_containers(docker_engine: Any, localaws: LocalAws) -> dict[str, str]:
    """instance id -> release of every demo-web container this localaws started (running
    or not: a stopped container left behind is an orphan too)."""
    labels = ["freshfleet.app=demo-web", f"freshfleet.localaws-pid={localaws.pid}"]
    found = docker_engine.api.containers(all=True, filters={"label": labels})
    return {c["Labels"]["freshfleet.instance-id"]: c["Labels"]["freshfleet.release"] for c in found}
