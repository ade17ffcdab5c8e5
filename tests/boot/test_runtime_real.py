"""localaws's real runtime: an instance boots its release with the real agent and Docker,
and terminating it leaves no container and no process behind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bootscript.agent.container import LABEL_INSTANCE
from localaws.runtimes.base import InstanceLaunch, RuntimeHost
from localaws.runtimes.real import (
    LABEL_LOCALAWS,
    LABEL_LOCALAWS_HOST,
    RealRuntime,
    remove_orphans,
)
from rollout.aws.backend import pid_alive
from rollout.config import LocalAwsTimers
from rollout.model import Release
from rollout.userdata import UserDataContext, parse_release_env, render_user_data

pytestmark = pytest.mark.docker


async def until(probe: Any, within: float, what: str) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await probe() if asyncio.iscoroutinefunction(probe) else probe()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(0.2)


@pytest.fixture
async def runtime(base_image: str, tmp_path: Path) -> AsyncIterator[RealRuntime]:
    running: list[str] = []
    host = RuntimeHost(
        loop=asyncio.get_running_loop(),
        timers=LocalAwsTimers(),
        region="us-east-1",
        endpoint_url="http://127.0.0.1:9",  # no AWS calls: the user data names no table
        mark_running=running.append,
        workdir=str(tmp_path / "instances"),
    )
    rt = RealRuntime(host, agent_env={"FRESHFLEET_HEALTH_TIMEOUT": "120"})
    await rt.open()
    rt.running = running  # type: ignore[attr-defined]
    yield rt
    await rt.close()


def launch_of(instance_id: str, url: str, sha: str, version: str) -> InstanceLaunch:
    release = Release(app="demo-web", version=version, url=url, sha256=sha)
    user_data = render_user_data(release, UserDataContext("20261127-120000-test", "us-east-1"))
    return InstanceLaunch(
        instance_id=instance_id,
        user_data=user_data,
        env=parse_release_env(user_data),
        region="us-east-1",
        endpoint_url="http://127.0.0.1:9",
    )


def containers_of(client: Any, instance_id: str) -> list[Any]:
    found: list[Any] = client.api.containers(
        all=True, filters={"label": f"{LABEL_INSTANCE}={instance_id}"}
    )
    return found


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_an_instance_serves_v1_and_terminating_it_leaves_nothing_behind(
    runtime: RealRuntime, release_server: Any, docker_client: Any
) -> None:
    url, sha = release_server.publish("v1")
    runtime.start(launch_of("i-0realboot000001", url, sha, "v1"))
    await until(lambda: runtime.address("i-0realboot000001"), 180, "the app to be up")
    console = await until(
        lambda: (
            "Finished freshfleet-boot" in (runtime.console_output("i-0realboot000001") or "")
            and runtime.console_output("i-0realboot000001")
        ),
        180,
        "the agent to finish",
    )
    assert "freshfleet-boot.service" in console
    assert " health ok " in console
    # The agent learned who it is from the instance's own IMDSv2.
    assert "on i-0realboot000001 (identity from imds)" in runtime.journal("i-0realboot000001")
    host, port = runtime.address("i-0realboot000001")  # type: ignore[misc]
    answer = await asyncio.to_thread(get_json, f"http://{host}:{port}/")
    assert answer["version"] == "v1"
    assert runtime.running == ["i-0realboot000001"]  # type: ignore[attr-defined]
    (found,) = containers_of(docker_client, "i-0realboot000001")
    assert found["Labels"]["freshfleet.localaws-pid"] == str(os.getpid())
    assert found["Labels"]["freshfleet.localaws-host"] == socket.gethostname()

    runtime.stop("i-0realboot000001")
    await until(
        lambda: not containers_of(docker_client, "i-0realboot000001"), 30, "its container to go"
    )
    assert runtime.address("i-0realboot000001") is None
    assert "Power Off" in (runtime.console_output("i-0realboot000001") or "")


async def test_terminating_a_booting_instance_ends_its_agent_and_its_container(
    runtime: RealRuntime, release_server: Any, docker_client: Any
) -> None:
    url, sha = release_server.publish("v3")  # never healthy: the agent waits in `health`
    runtime.start(launch_of("i-0realboot000002", url, sha, "v3"))
    await until(
        lambda: " health start" in (runtime.console_output("i-0realboot000002") or ""),
        180,
        "the health phase",
    )
    inst = runtime._instances["i-0realboot000002"]
    assert inst.process is not None
    agent = inst.process
    pid = agent.pid
    assert process_alive(pid)
    runtime.stop("i-0realboot000002")
    await until(lambda: agent.returncode is not None, 10, "the agent to end")
    await until(
        lambda: not containers_of(docker_client, "i-0realboot000002"), 30, "its container to go"
    )
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)


def test_containers_of_a_localaws_that_died_are_removed_at_the_next_start(
    base_image: str, docker_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A host name of the test's own: a localaws started meanwhile on this shared engine
    # reaps its host's orphans, never these, and this reaper never touches anyone else's.
    here = f"reaper-test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setattr(socket, "gethostname", lambda: here)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert not pid_alive(dead.pid)

    def container(name: str, **labels: str) -> Any:
        return docker_client.containers.create(
            base_image, ["true"], name=f"{here}-{name}", labels=labels
        )

    made = [
        orphan := container("orphan", **{LABEL_LOCALAWS: str(dead.pid), LABEL_LOCALAWS_HOST: here}),
        container("mine", **{LABEL_LOCALAWS: str(os.getpid()), LABEL_LOCALAWS_HOST: here}),
        container("elsewhere", **{LABEL_LOCALAWS: str(dead.pid), LABEL_LOCALAWS_HOST: "other"}),
        container("unhosted", **{LABEL_LOCALAWS: str(dead.pid)}),
        container("unlabelled"),
    ]
    try:
        said: list[str] = []
        assert remove_orphans(said.append) == [orphan.id]
        left = {c["Id"] for c in docker_client.api.containers(all=True)}
        assert orphan.id not in left
        assert all(c.id in left for c in made[1:])
        assert said == [
            f"removed container {here}-orphan, left by localaws pid {dead.pid} (not running)"
        ]
    finally:
        for c in made:
            with contextlib.suppress(Exception):  # the orphan is gone already
                c.remove(force=True)
