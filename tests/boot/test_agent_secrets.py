"""Secrets reach the release: the plan's user data names the app's SSM path
(`/freshfleet/<app>/`, which the instance role may read), and the boot agent, given that env
file as cloud-init writes it, puts every parameter under the path into the release
container's environment, with a real Docker engine (never skipped in CI: `docker` marker).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localaws.process import LocalAws
from localaws.testing import boto3_client
from rollout.aws.backend import Backend
from rollout.aws.gateway import Gateway
from rollout.config import load_config
from rollout.deploy.plan import DeployRequest, RolloutPlan, make_plan
from rollout.userdata import parse_release_env

pytestmark = pytest.mark.docker

APP = "demo-web"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def container(docker_client: Any, tmp_path: Path) -> Iterator[str]:
    """A container name of this test's own, removed afterwards whatever happened."""
    name = f"freshfleet-secrets-{tmp_path.name[-20:]}".replace("_", "-")
    yield name
    with contextlib.suppress(Exception):
        docker_client.containers.get(name).remove(force=True)


def plan_of(la: LocalAws, version: str) -> RolloutPlan:
    """The rollout plan `freshfleet deploy demo-web VERSION` would make on this localaws."""

    async def plan() -> RolloutPlan:
        backend = Backend(endpoint_url=la.url, region=la.region, local=True)
        async with Gateway(backend) as gw:
            return await make_plan(gw, load_config(), DeployRequest(APP, version))

    return asyncio.run(plan())


def test_a_parameter_under_the_plans_ssm_path_reaches_the_release_container(
    fresh_localaws: LocalAws,
    base_image: str,
    agent_environ: Any,
    agent: Any,
    container: str,
    docker_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)  # no freshfleet.toml of the developer's
    la = fresh_localaws
    ssm = boto3_client("ssm", la.url, la.region)
    ssm.put_parameter(
        Name=f"/freshfleet/{APP}/DATABASE_URL", Value="postgres://db/shop", Type="SecureString"
    )
    ssm.put_parameter(Name=f"/freshfleet/{APP}/mail/SMTP_PASSWORD", Value="m41l", Type="String")
    ssm.put_parameter(Name="/freshfleet/other-app/NOT_MINE", Value="x", Type="String")

    release_env = parse_release_env(plan_of(la, "v2").user_data)
    assert release_env["SSM_PATH"] == f"/freshfleet/{APP}/"

    environ = agent_environ(
        tmp_path,
        release_env["RELEASE_URL"],
        release_env["RELEASE_SHA256"],
        version="v2",
        FRESHFLEET_BASE_IMAGE=base_image,
        FRESHFLEET_HOST_PORT=str(free_port()),
        FRESHFLEET_HOST_BIND="127.0.0.1",
        FRESHFLEET_CONTAINER_NAME=container,
        FRESHFLEET_INSTANCE_ID=f"i-{container[-12:]}",
        AWS_ENDPOINT_URL=la.url,  # the instance's AWS is this localaws
    )
    # The env file as cloud-init writes it from the plan's user data, nothing added.
    Path(environ["FRESHFLEET_ENV_FILE"]).write_text(
        "".join(f"{k}={v}\n" for k, v in release_env.items())
    )
    result = agent(environ)
    assert result.returncode == 0, result.stdout + result.stderr

    env = docker_client.containers.get(container).attrs["Config"]["Env"]
    assert "DATABASE_URL=postgres://db/shop" in env
    assert "SMTP_PASSWORD=m41l" in env
    assert not any(e.startswith("NOT_MINE=") for e in env)
    assert f"2 secrets from /freshfleet/{APP}/" in result.stdout + result.stderr
    assert "postgres://db/shop" not in result.stdout + result.stderr
