"""Fixtures for the boot agent's tests: a release server, env files, a Docker engine."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bootscript.releases import build_release_tarball

REPO = Path(__file__).resolve().parents[2]


@dataclass
class ReleaseServer:
    """A local HTTP server for release tarballs; can fail the first N requests of a path,
    redirect a path (`redirects[path] = location`) or drip a path's bytes one at a time
    (`drip`: a server that answers, but never finishes)."""

    files: dict[str, bytes] = field(default_factory=dict)
    fail_first: dict[str, int] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    drip: set[str] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)
    requests: list[str] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def publish(self, name: str) -> tuple[str, str]:
        """Serve demo release `name`; returns (url, the sha256 its record carries)."""
        data, sha = build_release_tarball(name)
        self.files[f"{name}.tar.gz"] = data
        return self.url(f"{name}.tar.gz"), sha


@pytest.fixture
def release_server() -> Iterator[ReleaseServer]:
    state = ReleaseServer()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.lstrip("/")
            state.requests.append(path)
            if path in state.redirects:
                self.send_response(302)
                self.send_header("Location", state.redirects[path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if path in state.drip:
                self.send_response(200)
                self.send_header("Content-Length", str(1 << 20))
                self.end_headers()
                # A byte every 10 ms, each well within any read timeout; for at most 20 s.
                for _ in range(2000):
                    if state.stop.wait(0.01):
                        return
                    try:
                        self.wfile.write(b"x")
                        self.wfile.flush()
                    except OSError:
                        return
                return
            if state.fail_first.get(path, 0) > 0:
                state.fail_first[path] -= 1
                self.send_error(503, "try again")
                return
            if path not in state.files:
                self.send_error(404, "no such release")
                return
            data = state.files[path]
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.stop.set()
    server.shutdown()
    server.server_close()


def make_agent_environ(
    tmp_path: Path, url: str, sha256: str, version: str = "v1", **extra: str
) -> dict[str, str]:
    """The process environment of an unprivileged agent run in tmp_path, IMDS absent."""
    env_file = tmp_path / "release.env"
    release = {
        "FRESHFLEET_APP": "demo-web",
        "FRESHFLEET_VERSION": version,
        "FRESHFLEET_ROLLOUT": "20261127-120000-test",
        "RELEASE_URL": url,
        "RELEASE_SHA256": sha256,
        "APP_PORT": "8080",
        "HEALTH_PATH": "/health",
        "AWS_REGION": "us-east-1",
    }
    env_file.write_text("".join(f"{k}={v}\n" for k, v in release.items()))
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "FRESHFLEET_ENV_FILE": str(env_file),
        "FRESHFLEET_STATE_DIR": str(tmp_path / "state"),
        "FRESHFLEET_WORK_DIR": str(tmp_path / "work"),
        "FRESHFLEET_IMDS_ENDPOINT": "http://127.0.0.1:9",  # nothing listens: IMDS is absent
        "FRESHFLEET_FETCH_ATTEMPTS": "2",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        **extra,
    }


@pytest.fixture
def agent_environ() -> Any:
    """make_agent_environ(tmp_path, url, sha256, version="v1", **extra) as a fixture."""
    return make_agent_environ


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A Docker engine that answers; a failure (never a skip) when CI=true and there is none."""
    try:
        import docker

        client = docker.from_env(timeout=300)
        client.ping()
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs a Docker engine for these tests: {exc}")
        pytest.skip(f"no Docker engine: {exc}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def base_image(docker_client: Any) -> str:
    """The release base image, built once (mmdebstrap + docker import) when the engine lacks it."""
    from bootscript.baseimage import ensure_base_image

    return ensure_base_image(docker_client)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """A moto server (the AWS the agent talks to in these tests); its state is per test id."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def run_agent(environ: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The agent as the unit runs it: `python -m bootscript.agent`, stdout and stderr apart."""
    return subprocess.run(
        [sys.executable, "-m", "bootscript.agent"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(environ["FRESHFLEET_ENV_FILE"]).parent,
    )


@pytest.fixture
def agent() -> Any:
    """run_agent(environ, timeout=300) -> CompletedProcess, as a fixture."""
    return run_agent
