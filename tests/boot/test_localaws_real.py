"""localaws in real mode: the demo fleet boots `demo-web` v1 from its tarball with the real
agent and Docker, and its load balancer serves it."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localaws.process import LocalAws, start_localaws
from localaws.testing import FAST_TIMERS, boto3_client

pytestmark = pytest.mark.docker


@pytest.fixture
def real_localaws(base_image: str, tmp_path: Path) -> Iterator[LocalAws]:
    directory = tmp_path / "localaws"
    directory.mkdir()
    with start_localaws(
        port=0,
        boot="real",
        endpoint_file=directory / "localaws.json",
        env={**FAST_TIMERS, "FRESHFLEET_LOCALAWS_DIR": str(directory)},
        ready_timeout=240,
    ) as handle:
        yield handle


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def test_real_mode_serves_demo_web_v1_built_from_its_tarball(
    real_localaws: LocalAws, eventually: Any, docker_client: Any
) -> None:
    assert real_localaws.boot_mode == "real", real_localaws.boot_reason
    alb = real_localaws.albs["demo-web"]

    def served() -> Any:
        try:
            return get_json(alb + "/")
        except OSError:
            return None

    assert eventually(served, within=240, what="demo-web behind its ALB") == {
        "app": "demo-web",
        "version": "v1",
    }
    ec2 = boto3_client("ec2", real_localaws.url)
    reservations = ec2.describe_instances()["Reservations"]
    ids = [i["InstanceId"] for r in reservations for i in r["Instances"]]
    console = ec2.get_console_output(InstanceId=ids[0])["Output"]
    assert "freshfleet-boot" in console and " build " in console
    containers = docker_client.containers.list(filters={"label": "freshfleet.app=demo-web"})
    assert {c.labels["freshfleet.instance-id"] for c in containers} >= set(ids)
