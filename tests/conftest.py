"""Shared fixtures: a real localaws for every test that needs AWS, and the Docker rule.

AWS in tests is localaws (moto's server with localaws's patches, in a child process):

- `localaws` (session): one simulated localaws with the demo seed, on a free port, with
  its own endpoint file in a tmp dir and short timers. Shared by every test of the run:
  do not reset it; create resources with names of your own (or use `fresh_localaws`).
- `fresh_localaws` (function): a freshly seeded demo of your own — a second session
  localaws, reset and reseeded before your test (`LocalAws.reseed()`), so nothing from
  earlier tests is left. `empty_localaws` (function): the same, reset to nothing.
- `backend`: a `rollout.aws.backend.Backend` for the session localaws.
- `aws_client`: a factory of plain boto3 clients for the session localaws:
  `aws_client("ec2")`, or `aws_client("ec2", url)` for another localaws.
- `eventually`: `eventually(probe, within=15, what="...")` calls `probe` until it returns
  something truthy and returns it, failing after `within` s (no fixed sleeps in tests).
- `localaws_endpoint_env`: FRESHFLEET_ENDPOINT_FILE pointed at the session localaws's
  file, so `discover_backend()` finds it as a second terminal would.

`localaws.testing` holds what fixtures cannot give: `start_test_localaws(dir, ...)` for a
localaws with other timers, `boto3_client(service, url)`, `FAST_TIMERS`.

Docker: mark a test `@pytest.mark.docker` (or call `require_docker()`); it is skipped when
no engine answers, except in CI (`CI=true`), where a missing engine FAILS the test.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# IAM coverage (tests/aws_calls.py): record every AWS call of the run; fail it on one outside
# iam/*.json (RECORD_AWS_CALLS=off turns it off).
from aws_calls import pytest_sessionfinish, pytest_sessionstart  # noqa: F401

from localaws.process import LocalAws
from localaws.testing import boto3_client, start_test_localaws
from rollout.aws.backend import Backend


@pytest.fixture(scope="session")
def localaws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    """The session's simulated localaws, seeded with the demo (`demo-web`, 3 × v1)."""
    with start_test_localaws(tmp_path_factory.mktemp("localaws")) as handle:
        yield handle


@pytest.fixture(scope="session")
def scratch_localaws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    """A second session localaws that `fresh_localaws`/`empty_localaws` reset per test."""
    with start_test_localaws(tmp_path_factory.mktemp("scratch-localaws"), seed=False) as handle:
        yield handle


@pytest.fixture
def fresh_localaws(scratch_localaws: LocalAws) -> LocalAws:
    """A freshly seeded demo for this test alone, for tests that change a lot.

    It is the session's scratch localaws, reset and seeded again before the test (a few
    seconds, not a new process): nothing from earlier tests is left, `albs` is updated.
    """
    scratch_localaws.reseed()
    return scratch_localaws


@pytest.fixture
def empty_localaws(scratch_localaws: LocalAws) -> LocalAws:
    """The scratch localaws reset to nothing (no tables, no demo) for this test alone."""
    scratch_localaws.reset()
    return scratch_localaws


@pytest.fixture
def backend(localaws: LocalAws) -> Backend:
    """The engine's Backend for the session localaws."""
    return Backend(
        endpoint_url=localaws.url,
        region=localaws.region,
        local=True,
        boot_mode=localaws.boot_mode,
    )


@pytest.fixture
def aws_client(localaws: LocalAws) -> Callable[..., Any]:
    """`aws_client("ec2")`: a boto3 client for the session localaws (or `url=` another)."""

    def make(service: str, url: str | None = None) -> Any:
        return boto3_client(service, url or localaws.url, localaws.region)

    return make


@pytest.fixture
def localaws_endpoint_env(localaws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point FRESHFLEET_ENDPOINT_FILE at the session localaws's endpoint file."""
    assert localaws.endpoint_file is not None
    monkeypatch.setenv("FRESHFLEET_ENDPOINT_FILE", str(localaws.endpoint_file))
    return localaws.endpoint_file


def wait_until(probe: Callable[[], Any], *, within: float = 15.0, what: str = "") -> Any:
    """Call `probe` until it returns something truthy and return that; an AssertionError
    from the probe counts as "not yet". Fails the test after `within` seconds."""
    deadline = time.monotonic() + within
    last: object = None
    while True:
        try:
            value = probe()
        except AssertionError as exc:
            value, last = None, exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within:g} s waiting for {what or probe}: {last}")
        time.sleep(0.05)


@pytest.fixture
def eventually() -> Callable[..., Any]:
    """`wait_until` as a fixture: tests wait on conditions with deadlines."""
    return wait_until


# -- Docker --------------------------------------------------------------------------------


def docker_problem() -> str | None:
    """None when a Docker engine answers; otherwise why not."""
    try:
        import docker

        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return f"no Docker engine answers ({exc})"
    return None


def require_docker() -> None:
    """Skip the calling test when no Docker engine answers, but FAIL it when CI=true."""
    problem = docker_problem()
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{problem}: Docker tests must run in CI (CI=true)", pytrace=False)
    pytest.skip(problem)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Apply `require_docker()` to every test marked `docker`."""
    if item.get_closest_marker("docker") is not None:
        require_docker()
