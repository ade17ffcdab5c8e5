"""The agent's health phase without Docker: it waits no longer than the deadline the env file
gives it, and reports `health fail` with the last answer it got.

The deadline arithmetic runs on a fake clock (no timed assertions); the answers come from
real sockets.
"""

from __future__ import annotations

import http.server
import io
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bootscript.agent import health
from bootscript.agent.boot import EXIT_CODES, Boot, PhaseFailed
from bootscript.agent.report import PhaseReporter
from bootscript.agent.settings import load_settings
from rollout.model import Release
from rollout.userdata import UserDataContext, parse_release_env, render_user_data


class FakeClock:
    """time.monotonic and time.sleep for wait_healthy: sleeping moves the clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self.asked: list[tuple[float, float]] = []  # (clock, request timeout) per probe

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


def test_the_health_phase_gives_up_at_its_deadline_with_the_last_answer() -> None:
    fake = FakeClock()
    answers = iter(["[Errno 111] Connection refused"] * 3)

    def ask(url: str, timeout: float) -> str:
        fake.asked.append((fake.now, timeout))
        return next(answers, "HTTP 503 Service Unavailable")

    with pytest.raises(health.HealthError) as failed:
        health.wait_healthy(
            "http://127.0.0.1:8080/health", 2.2, ask=ask, clock=fake.clock, sleep=fake.sleep
        )

    # It polled until the deadline and not a moment past it, every request cut to the time left.
    assert fake.now == pytest.approx(2.2)
    assert fake.asked[-1][0] == pytest.approx(2.2)
    assert all(timeout <= max(0.1, 2.2 - at) + 1e-9 for at, timeout in fake.asked)
    message = str(failed.value)
    assert message.startswith("HTTP 503 Service Unavailable from http://127.0.0.1:8080/health")
    assert "no healthy answer within 2.2 s" in message


def test_a_release_that_hangs_is_cut_off_at_the_deadline_not_after_a_whole_request() -> None:
    fake = FakeClock()

    def hang(url: str, timeout: float) -> str:
        fake.now += timeout  # the request runs into its timeout
        return "timed out"

    with pytest.raises(health.HealthError, match=r"^timed out from .*within 1 s"):
        health.wait_healthy("http://x/health", 1.0, ask=hang, clock=fake.clock, sleep=fake.sleep)
    assert fake.now <= 1.0 + 0.1  # a request never outlives the deadline by more than its floor


def test_a_healthy_answer_ends_the_phase_with_the_time_it_took() -> None:
    fake = FakeClock()
    answers = iter(["HTTP 503 Service Unavailable", ""])
    took = health.wait_healthy(
        "http://x/health", 5.0, ask=lambda _u, _t: next(answers), clock=fake.clock, sleep=fake.sleep
    )
    assert took == pytest.approx(health.POLL_SECONDS)


@pytest.fixture
def unhealthy_server() -> Iterator[int]:
    """A port whose health path answers 503, as v3's app does."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(503, "Service Unavailable")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_probe_names_the_status_code_or_the_connection_error(unhealthy_server: int) -> None:
    assert health.probe(f"http://127.0.0.1:{unhealthy_server}/health").startswith("HTTP 503")
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    assert "refused" in health.probe(f"http://127.0.0.1:{closed}/health").lower()


def test_the_boot_reports_health_fail_after_the_env_files_deadline(
    unhealthy_server: int, agent_environ: Any, tmp_path: Path
) -> None:
    environ = agent_environ(
        tmp_path,
        "http://127.0.0.1:9/v3.tar.gz",
        "a" * 64,
        version="v3",
        FRESHFLEET_HOST_PORT=str(unhealthy_server),
        FRESHFLEET_HOST_BIND="127.0.0.1",
        FRESHFLEET_HEALTH_TIMEOUT="999",  # the process's own knob: the env file's wins
    )
    env_file = Path(environ["FRESHFLEET_ENV_FILE"])
    env_file.write_text(env_file.read_text() + "FRESHFLEET_HEALTH_TIMEOUT=0.6\n")
    settings = load_settings(environ)
    assert settings.health_timeout == 0.6

    console = io.StringIO()
    reporter = PhaseReporter(
        instance_id="i-0health",
        app="demo-web",
        release="v3",
        console=console,
        journal=io.StringIO(),
    )
    boot = Boot(settings, reporter, docker_client=lambda: None)  # no container to describe
    with pytest.raises(PhaseFailed) as failed:
        boot.phase("health", boot.do_health)

    assert failed.value.phase == "health" and EXIT_CODES[failed.value.phase] == 15
    last = console.getvalue().splitlines()[-1]
    assert " health fail HTTP 503 Service Unavailable from http://127.0.0.1:" in last
    assert "no healthy answer within 0.6 s" in last


def test_the_rollouts_deadline_in_the_user_data_wins_over_a_process_knob(tmp_path: Path) -> None:
    # As localaws's real boots run the agent: the env file is the user data's, written as it
    # is, and LOCALAWS_AGENT_HEALTH_TIMEOUT reaches the process as FRESHFLEET_HEALTH_TIMEOUT.
    release = Release(
        app="demo-web", version="v3", url="https://releases.example.com/v3.tgz", sha256="a" * 64
    )
    ctx = UserDataContext("20261127-120000-test", "us-east-1", health_timeout_seconds=60.0)
    env = parse_release_env(render_user_data(release, ctx))
    env_file = tmp_path / "release.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))

    knob = {"FRESHFLEET_ENV_FILE": str(env_file), "FRESHFLEET_HEALTH_TIMEOUT": "15"}
    assert load_settings(knob).health_timeout == 60.0
    env_file.write_text(env_file.read_text().replace("FRESHFLEET_HEALTH_TIMEOUT=60\n", ""))
    assert load_settings(knob).health_timeout == 15.0  # without the rollout's, the knob's
    del knob["FRESHFLEET_HEALTH_TIMEOUT"]
    assert load_settings(knob).health_timeout == health.DEFAULT_TIMEOUT_SECONDS
