"""The boot agent with a real Docker engine: a good release serves its version; each fault
release fails at its own phase with the reason on the console.

The release base image is built once per session (mmdebstrap + docker import) and reused.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from bootscript.agent.boot import EXIT_CODES
from bootscript.agent.health import probe

pytestmark = pytest.mark.docker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def container(docker_client: Any, tmp_path: Path) -> Iterator[str]:
    """A container name of this test's own, removed afterwards whatever happened."""
    name = f"freshfleet-test-{tmp_path.name[-24:]}".replace("_", "-")
    yield name
    with contextlib.suppress(Exception):
        docker_client.containers.get(name).remove(force=True)


def environ_for(
    agent_environ: Any, tmp_path: Path, url: str, sha: str, version: str, name: str, base: str
) -> dict[str, str]:
    environ: dict[str, str] = agent_environ(
        tmp_path,
        url,
        sha,
        version=version,
        FRESHFLEET_BASE_IMAGE=base,
        FRESHFLEET_HOST_PORT=str(free_port()),
        FRESHFLEET_HOST_BIND="127.0.0.1",
        FRESHFLEET_CONTAINER_NAME=name,
        FRESHFLEET_INSTANCE_ID=f"i-{name[-12:]}",
        FRESHFLEET_HEALTH_TIMEOUT="60",
    )
    return environ


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def test_v1_boots_answers_its_version_and_a_reboot_does_not_redeploy(
    base_image: str,
    release_server: Any,
    agent_environ: Any,
    agent: Any,
    container: str,
    docker_client: Any,
    moto_url: str,
    tmp_path: Path,
) -> None:
    url, sha = release_server.publish("v1")
    environ = environ_for(agent_environ, tmp_path, url, sha, "v1", container, base_image)
    # Secrets come from SSM under SSM_PATH, never from user data.
    ssm_path = f"/demo-web/{tmp_path.name}"
    ssm = boto3.client(
        "ssm",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    ssm.put_parameter(Name=f"{ssm_path}/DB_PASSWORD", Value="s3cret", Type="SecureString")
    environ["AWS_ENDPOINT_URL"] = moto_url
    env_file = Path(environ["FRESHFLEET_ENV_FILE"])
    env_file.write_text(env_file.read_text() + f"SSM_PATH={ssm_path}\n")
    first = agent(environ)
    assert first.returncode == 0, first.stdout + first.stderr
    ok = [line.split()[2] for line in first.stdout.splitlines() if line.split()[3] == "ok"]
    assert ok == ["fetch", "verify", "extract", "build", "run", "health"]
    assert "Successfully built" in first.stderr  # the build log is in the journal
    port = environ["FRESHFLEET_HOST_PORT"]
    assert get_json(f"http://127.0.0.1:{port}/") == {"app": "demo-web", "version": "v1"}
    labels = docker_client.containers.get(container).labels
    assert labels["freshfleet.instance-id"] == environ["FRESHFLEET_INSTANCE_ID"]
    container_env = docker_client.containers.get(container).attrs["Config"]["Env"]
    assert "DB_PASSWORD=s3cret" in container_env
    assert "s3cret" not in first.stdout + first.stderr
    assert json.loads((tmp_path / "state" / "deployed").read_text())["version"] == "v1"

    # A reboot: dockerd stopped the container; the agent starts it again, fetches nothing.
    docker_client.containers.get(container).stop(timeout=2)
    fetched = len(release_server.requests)
    again = agent(environ)
    assert again.returncode == 0, again.stdout + again.stderr
    assert [tuple(line.split()[2:4]) for line in again.stdout.splitlines()] == [
        ("run", "start"),
        ("run", "ok"),
        ("health", "start"),
        ("health", "ok"),
    ]
    assert "already deployed" in again.stdout
    assert len(release_server.requests) == fetched
    assert get_json(f"http://127.0.0.1:{port}/")["version"] == "v1"


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("build-fails", "last output: build-fails: dependency libfreshfleet-demo is missing"),
        ("v3", "HTTP 503"),
    ],
)
def test_a_release_that_cannot_serve_fails_at_its_phase_and_is_never_marked_deployed(
    fault: str,
    reason: str,
    base_image: str,
    release_server: Any,
    agent_environ: Any,
    agent: Any,
    container: str,
    tmp_path: Path,
) -> None:
    url, sha = release_server.publish(fault)
    environ = environ_for(agent_environ, tmp_path, url, sha, fault, container, base_image)
    environ["FRESHFLEET_HEALTH_TIMEOUT"] = "4"
    result = agent(environ)
    phase = {"build-fails": "build", "v3": "health"}[fault]
    assert result.returncode == EXIT_CODES[phase], result.stdout + result.stderr
    last = result.stdout.splitlines()[-1]
    assert last.split()[2:4] == [phase, "fail"]
    assert reason in last
    assert not (tmp_path / "state" / "deployed").exists()


def test_a_release_that_crashes_after_becoming_healthy_stops_answering(
    base_image: str,
    release_server: Any,
    agent_environ: Any,
    agent: Any,
    container: str,
    tmp_path: Path,
) -> None:
    url, sha = release_server.publish("crash-after-healthy")
    environ = environ_for(
        agent_environ, tmp_path, url, sha, "crash-after-healthy", container, base_image
    )
    result = agent(environ)
    assert result.returncode == 0, result.stdout + result.stderr  # healthy at first
    health = f"http://127.0.0.1:{environ['FRESHFLEET_HOST_PORT']}/health"
    deadline = time.monotonic() + 40
    while not probe(health) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert probe(health), "the crashing release kept answering"
    # Restarted by its policy, it crashes at once: it stays down.
    down_since = time.monotonic()
    while time.monotonic() - down_since < 3:
        assert probe(health)
        time.sleep(0.25)
