"""A whole boot without Docker: the agent fails at the right phase, says why, and reports it.

The agent runs as the unit runs it (`python -m bootscript.agent`), unprivileged, with IMDS
absent, against a local release server; the instances table lives in a moto server.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from bootscript.agent import identity
from bootscript.agent.boot import EXIT_CODES
from bootscript.releases import FAULTS
from localaws.runtimes.base import InstanceLaunch
from localaws.runtimes.real import MetadataServer

LINE = re.compile(
    r"^freshfleet-boot \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "
    r"(fetch|verify|extract|build|run|health) (start|ok|fail)( .+)?$"
)


def phases(stdout: str) -> list[tuple[str, str]]:
    lines = stdout.splitlines()
    assert lines and all(LINE.match(line) for line in lines), stdout
    return [tuple(line.split()[2:4]) for line in lines]  # type: ignore[misc]


@pytest.mark.parametrize(
    "fault", [name for name, phase in FAULTS.items() if phase in ("verify", "extract")]
)
def test_a_fault_release_fails_at_its_phase_with_the_reason_on_the_console(
    fault: str, release_server: Any, agent_environ: Any, agent: Any, tmp_path: Path
) -> None:
    url, sha = release_server.publish(fault)
    result = agent(agent_environ(tmp_path, url, sha, version=fault))
    phase = FAULTS[fault]
    assert result.returncode == EXIT_CODES[phase], result.stdout + result.stderr
    assert phases(result.stdout)[-1] == (phase, "fail")
    reason = result.stdout.splitlines()[-1]
    assert {
        "bad-checksum": "sha256 mismatch",
        "dotdot": "path contains '..'",
        "absolute-path": "absolute path",
        "symlink-out": "leaves the tree",
    }[fault] in reason
    assert not (tmp_path / "state" / "deployed").exists()
    assert not (tmp_path / "work" / "dotdot-escaped.txt").exists()
    assert not (tmp_path / "dotdot-escaped.txt").exists()
    assert not Path("/tmp/freshfleet-absolute-escaped.txt").exists()


def test_an_unreachable_release_fails_the_fetch_phase_after_its_retries(
    agent_environ: Any, agent: Any, tmp_path: Path
) -> None:
    result = agent(agent_environ(tmp_path, "http://127.0.0.1:9/v1.tar.gz", "a" * 64))
    assert result.returncode == EXIT_CODES["fetch"]
    assert phases(result.stdout) == [("fetch", "start"), ("fetch", "fail")]
    assert "after 2 attempts" in result.stdout
    assert "fetch attempt 1/2 failed" in result.stderr  # the detail goes to the journal


def test_without_an_env_file_the_agent_says_which_file(agent: Any, tmp_path: Path) -> None:
    environ = {"FRESHFLEET_ENV_FILE": str(tmp_path / "missing.env"), "PATH": "/usr/bin:/bin"}
    environ["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    result = agent(environ)
    assert result.returncode == 2
    assert "missing.env" in result.stdout


def test_every_phase_event_lands_in_the_instances_table(
    release_server: Any, agent_environ: Any, agent: Any, tmp_path: Path, moto_url: str
) -> None:
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    table = f"instances-{tmp_path.name}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "instance_arn", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "instance_arn", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    url, sha = release_server.publish("bad-checksum")
    environ = agent_environ(
        tmp_path,
        url,
        sha,
        version="bad-checksum",
        AWS_ENDPOINT_URL=moto_url,
        FRESHFLEET_INSTANCE_ID="i-0123456789abcdef0",
        FRESHFLEET_ACCOUNT_ID="123456789012",
    )
    env_file = Path(environ["FRESHFLEET_ENV_FILE"])
    env_file.write_text(env_file.read_text() + f"INSTANCES_TABLE={table}\n")
    result = agent(environ)
    assert result.returncode == EXIT_CODES["verify"]
    arn = "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0"
    item = dynamodb.get_item(TableName=table, Key={"instance_arn": {"S": arn}})
    got = {k: v.get("S") or v.get("N") for k, v in item["Item"].items()}
    assert got["app"] == "demo-web"
    assert got["release"] == "bad-checksum"
    assert (got["phase"], got["status"]) == ("verify", "fail")
    assert "sha256 mismatch" in got["detail"]
    assert got["updated_at"] in result.stdout.splitlines()[-1]
    assert got["started_at"] <= got["updated_at"]


def test_an_unwritable_table_never_fails_the_boot(
    release_server: Any, agent_environ: Any, agent: Any, tmp_path: Path
) -> None:
    url, sha = release_server.publish("dotdot")
    environ = agent_environ(
        tmp_path,
        url,
        sha,
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
        FRESHFLEET_ACCOUNT_ID="123456789012",
    )
    env_file = Path(environ["FRESHFLEET_ENV_FILE"])
    env_file.write_text(env_file.read_text() + "INSTANCES_TABLE=freshfleet-instances\n")
    result = agent(environ)
    assert result.returncode == EXIT_CODES["extract"]  # the release's own fault, not the table's
    assert result.stderr.count("cannot write to table") == 1


async def test_identity_comes_from_imdsv2_and_needs_its_token() -> None:
    server = MetadataServer()
    await server.start()
    try:
        launch = InstanceLaunch(
            instance_id="i-0abc",
            user_data="",
            env={},
            region="eu-west-1",
            endpoint_url="",
            tags={"freshfleet:app": "demo-web"},
            account_id="210987654321",
        )
        server.register(launch)
        endpoint = server.endpoint("i-0abc")
        who = await asyncio.to_thread(identity.discover, endpoint)
        assert (who.instance_id, who.region, who.source) == ("i-0abc", "eu-west-1", "imds")
        assert who.account == "210987654321"  # the owner an s3:// release's bucket must have
        with pytest.raises(urllib.error.HTTPError) as denied:
            await asyncio.to_thread(
                urllib.request.urlopen, f"{endpoint}/latest/meta-data/instance-id", None, 5
            )
        assert denied.value.code == 401
        token = await asyncio.to_thread(identity.imds_token, endpoint)
        app = await asyncio.to_thread(
            identity.imds_get, endpoint, "meta-data/tags/instance/freshfleet:app", token
        )
        assert app == "demo-web"
    finally:
        await server.close()


def test_without_imds_the_identity_comes_from_the_environment() -> None:
    who = identity.discover("http://127.0.0.1:9", "i-from-env", "us-east-1")
    assert (who.instance_id, who.source) == ("i-from-env", "env")
    assert identity.discover("off").source == "hostname"


@pytest.mark.parametrize("marker_release", ["v1", "v0"])
def test_a_marker_without_its_container_means_a_fresh_deploy_never_a_false_ok(
    marker_release: str, release_server: Any, agent_environ: Any, agent: Any, tmp_path: Path
) -> None:
    url, sha = release_server.publish("v1")
    environ = agent_environ(tmp_path, url, sha, DOCKER_HOST="unix:///nonexistent/docker.sock")
    marker = tmp_path / "state" / "deployed"
    marker.parent.mkdir()
    marker.write_text(json.dumps({"app": "demo-web", "version": marker_release, "sha256": sha}))
    result = agent(environ)
    # No engine answers, so the redeploy fails at build; it never claims the old deploy.
    assert result.returncode == EXIT_CODES["build"], result.stdout + result.stderr
    assert phases(result.stdout)[0] == ("fetch", "start")
    assert "no Docker engine" in result.stdout.splitlines()[-1]
    assert ("redeploying" in result.stderr) == (marker_release == "v1")
    assert not marker.exists() or marker_release == "v0"
