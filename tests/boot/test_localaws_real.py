"""localaws in real mode, as a person lives it: the demo fleet boots `demo-web` v1 from its
tarball with the real agent and Docker; `deploy demo-web v2` ends with every container
answering v2; `deploy demo-web v3` fails at the health phase, the reason is in the
instances' console output, and the rollout rolls back while v2 keeps serving; so do
fault releases that fail to build or carry a `../` member."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bootscript.releases import build_release_tarball
from localaws.process import LocalAws, start_localaws
from localaws.runtimes.real import LABEL_LOCALAWS
from localaws.testing import FAST_TIMERS, boto3_client

pytestmark = pytest.mark.docker

ROLLOUT_ENV = {
    "FRESHFLEET_ROLLOUT__BAKE_SECONDS": "2",
    "FRESHFLEET_ROLLOUT__GATE_DEADLINE_SECONDS": "240",
    "FRESHFLEET_ROLLOUT__POLL_SECONDS": "0.5",
}


@contextlib.contextmanager
def real_boots(tmp_path: Path, env: dict[str, str]) -> Iterator[LocalAws]:
    """A localaws whose instances boot for real, its files under `tmp_path`."""
    directory = tmp_path / "localaws"
    directory.mkdir()
    with start_localaws(
        port=0,
        boot="real",
        endpoint_file=directory / "localaws.json",
        env={**FAST_TIMERS, "FRESHFLEET_LOCALAWS_DIR": str(directory), **env},
        ready_timeout=240,
    ) as handle:
        yield handle


@pytest.fixture
def real_localaws(base_image: str, tmp_path: Path) -> Iterator[LocalAws]:
    # The agent's health phase gives up after the rollout's deadline (half the gate's), so v3
    # fails its boot before the gate deadline.
    with real_boots(tmp_path, {}) as handle:
        yield handle


def get_json(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return json.loads(resp.read())
    except OSError:
        return None


def freshfleet(localaws: LocalAws, *args: str) -> subprocess.CompletedProcess[str]:
    """The `freshfleet` CLI in a second terminal that finds localaws by its endpoint file."""
    env = {**os.environ, **ROLLOUT_ENV, "FRESHFLEET_ENDPOINT_FILE": str(localaws.endpoint_file)}
    return subprocess.run(
        [sys.executable, "-m", "console.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
    )


def running_demo_web(docker_client: Any, localaws: LocalAws) -> list[dict[str, Any]]:
    """The running demo-web containers this localaws started (the engine may be shared: a
    container of another localaws on it is not this test's)."""
    labels = ["freshfleet.app=demo-web", f"{LABEL_LOCALAWS}={localaws.pid}"]
    found: list[dict[str, Any]] = docker_client.api.containers(filters={"label": labels})
    return found


def demo_containers(docker_client: Any, localaws: LocalAws) -> dict[str, str]:
    """instance id -> release of every running demo-web container this localaws started."""
    found = running_demo_web(docker_client, localaws)
    return {c["Labels"]["freshfleet.instance-id"]: c["Labels"]["freshfleet.release"] for c in found}


def test_real_mode_boots_v1_deploys_v2_everywhere_and_rolls_back_failing_releases(
    real_localaws: LocalAws, eventually: Any, docker_client: Any
) -> None:
    assert real_localaws.boot_mode == "real", real_localaws.boot_reason
    alb = real_localaws.albs["demo-web"] + "/"
    ec2 = boto3_client("ec2", real_localaws.url)

    assert eventually(lambda: get_json(alb), within=240, what="demo-web behind its ALB") == {
        "app": "demo-web",
        "version": "v1",
    }
    first = ec2.describe_instances()["Reservations"][0]["Instances"][0]["InstanceId"]
    console = ec2.get_console_output(InstanceId=first)["Output"]
    assert " build ok freshfleet/demo-web:v1" in console

    deployed = freshfleet(real_localaws, "deploy", "demo-web", "v2", "-y", "--bake", "2")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert get_json(alb)["version"] == "v2"
    eventually(
        lambda: (
            set(demo_containers(docker_client, real_localaws).values()) == {"v2"}
            and len(demo_containers(docker_client, real_localaws)) == 3
        ),
        within=60,
        what="only v2's three containers left",
    )
    # Every serving container itself answers v2, not just the load balancer.
    for found in running_demo_web(docker_client, real_localaws):
        (published,) = [p for p in found["Ports"] if p.get("PublicPort")]
        answer = get_json(f"http://127.0.0.1:{published['PublicPort']}/")
        assert answer == {"app": "demo-web", "version": "v2"}

    failed = freshfleet(real_localaws, "deploy", "demo-web", "v3", "-y", "--bake", "2")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert get_json(alb)["version"] == "v2"
    v3_consoles = [
        ec2.get_console_output(InstanceId=i["InstanceId"]).get("Output", "")
        for r in ec2.describe_instances()["Reservations"]
        for i in r["Instances"]
    ]
    assert any(" health fail " in c and "HTTP 503" in c for c in v3_consoles)
    eventually(
        lambda: set(demo_containers(docker_client, real_localaws).values()) == {"v2"},
        within=60,
        what="v3's containers to be gone",
    )

    # Fault releases, recorded as any release is, fail at their own phase and roll back.
    dynamodb = boto3_client("dynamodb", real_localaws.url)
    v1_url = dynamodb.get_item(
        TableName="freshfleet-releases",
        Key={"app": {"S": "demo-web"}, "version": {"S": "v1"}},
    )["Item"]["url"]["S"]
    for fault, phase, reason in [
        ("build-fails", "build", "dependency libfreshfleet-demo is missing"),
        ("dotdot", "extract", "path contains '..'"),
    ]:
        _, sha = build_release_tarball(fault)
        url = v1_url.replace("/v1.tar.gz", f"/{fault}.tar.gz")
        added = freshfleet(
            real_localaws, "release", "add", "demo-web", fault, "--url", url, "--sha256", sha
        )
        assert added.returncode == 0, added.stdout + added.stderr
        failed = freshfleet(real_localaws, "deploy", "demo-web", fault, "-y", "--bake", "2")
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert get_json(alb)["version"] == "v2"
        consoles = "".join(
            ec2.get_console_output(InstanceId=i["InstanceId"]).get("Output", "")
            for r in ec2.describe_instances()["Reservations"]
            for i in r["Instances"]
        )
        assert any(
            f" {phase} fail " in line and reason in line for line in consoles.splitlines()
        ), consoles[-2000:]
    assert not list(Path(real_localaws.endpoint_file or ".").parent.rglob("dotdot-escaped.txt"))


JUDGED_ENV = {
    "FRESHFLEET_JUDGE__PERIOD_SECONDS": "1",
    "FRESHFLEET_JUDGE__MIN_REQUESTS": "20",
    "FRESHFLEET_JUDGE__LOOK_SECONDS": "0.5",
    "FRESHFLEET_ROLLOUT__CANARY_WATCH_SECONDS": "25",
}


@pytest.fixture
def judged_real_localaws(base_image: str, tmp_path: Path) -> Iterator[LocalAws]:
    """Real boots with 40 requests a second through the demo's load balancer."""
    with real_boots(tmp_path, {"FRESHFLEET_LOCALAWS__TRAFFIC_RPS": "40"}) as handle:
        yield handle


@pytest.mark.timeout(1500)  # the first real boots build the base image
def test_real_boots_are_judged_on_their_traffic_v4_and_v5_are_rolled_back(
    judged_real_localaws: LocalAws, eventually: Any
) -> None:
    la = judged_real_localaws
    assert la.boot_mode == "real", la.boot_reason
    alb = la.albs["demo-web"] + "/"
    assert eventually(lambda: get_json(alb), within=240, what="demo-web behind its ALB") == {
        "app": "demo-web",
        "version": "v1",
    }

    def deploy(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **ROLLOUT_ENV, **JUDGED_ENV}
        env["FRESHFLEET_ENDPOINT_FILE"] = str(la.endpoint_file)
        return subprocess.run(
            [sys.executable, "-m", "console.main", "deploy", "demo-web", *args, "-y"],
            env=env,
            capture_output=True,
            text=True,
            timeout=420,
        )

    # v4 answers /health but a fifth of its other requests fail: out before full traffic.
    canary = deploy("v4", "--strategy", "canary")
    assert canary.returncode == 1, canary.stdout + canary.stderr
    assert "the judge during the canary watch: canary 5xx" in canary.stdout, canary.stdout
    assert get_json(alb)["version"] == "v1"
    # v5 is healthy and ten times slower: flipped back during its bake, on latency.
    slow = deploy("v5", "--bake", "30")
    assert slow.returncode == 1, slow.stdout + slow.stderr
    assert "the judge during the bake: new group latency" in slow.stdout, slow.stdout
    assert get_json(alb)["version"] == "v1"
