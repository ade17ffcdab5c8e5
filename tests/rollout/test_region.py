"""Without --region, the region is the one the SDK resolves (AWS_REGION, the profile): the
instances are told it, and `release add --file` names and places its bucket in it."""

from __future__ import annotations

import asyncio
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localaws.process import LocalAws
from localaws.testing import boto3_client, start_test_localaws
from rollout.aws.backend import Backend
from rollout.aws.gateway import Gateway
from rollout.config import load_config
from rollout.deploy.plan import DeployRequest, make_plan
from rollout.userdata import parse_release_env

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def eu_localaws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    with start_test_localaws(tmp_path_factory.mktemp("eu-localaws"), region=REGION) as la:
        yield la


@pytest.fixture
def sdk_region(eu_localaws: LocalAws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Real-AWS settings as a user has them: no --region, AWS_REGION in the environment (and
    the SDK's own endpoint variable, so the clients reach the local cloud)."""
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", eu_localaws.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "freshfleet")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "freshfleet")
    monkeypatch.setenv("FRESHFLEET_ENDPOINT_FILE", str(tmp_path / "none.json"))
    monkeypatch.chdir(tmp_path)
    return eu_localaws.url


def test_a_backend_without_a_region_tells_instances_the_sdks_region(sdk_region: str) -> None:
    async def plan() -> Any:
        async with Gateway(Backend(region=None)) as gw:
            return await make_plan(gw, load_config(), DeployRequest("demo-web", "v2"))

    env = parse_release_env(asyncio.run(plan()).user_data)
    assert env["AWS_REGION"] == REGION
    assert env["SSM_PATH"] == "/freshfleet/demo-web/"


def test_release_add_file_names_and_places_its_bucket_in_the_sdks_region(
    sdk_region: str, tmp_path: Path
) -> None:
    from console.main import main

    tarball = tmp_path / "web-v9.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        dockerfile = tmp_path / "Dockerfile"
        dockerfile.write_text("FROM scratch\n")
        tar.add(dockerfile, "Dockerfile")
    assert main(["release", "add", "demo-web", "v9", "--file", str(tarball), "--aws"]) == 0

    s3 = boto3_client("s3", sdk_region, REGION)
    (bucket,) = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bucket.endswith(f"-{REGION}")
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == REGION
