"""The read-side commands on the demo, as an on-call engineer types them in a second
terminal while localaws runs: status, releases, release add, history, logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from console.main import main
from localaws.process import LocalAws

SHA = "ab" * 32


@pytest.fixture(autouse=True)
def second_terminal(
    localaws_endpoint_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commands find the session localaws through its endpoint file, as a user's would."""
    monkeypatch.chdir(tmp_path)  # no stray freshfleet.toml


def freshfleet(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the command in-process: (exit code, stdout, stderr with its wrapping undone)."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, " ".join(captured.err.split())


def test_status_json_shows_demo_web_serving_v1_on_three_healthy_instances(
    localaws: LocalAws, capsys: pytest.CaptureFixture[str], eventually: Callable[..., Any]
) -> None:
    def demo_healthy() -> dict[str, Any] | None:
        code, out, err = freshfleet(capsys, "status", "demo-web", "--json")
        assert code == 0, err
        status = json.loads(out)
        (app,) = status["apps"]
        return status if app["healthy"] == 3 else None

    status = eventually(demo_healthy, within=60, what="demo-web with 3 healthy instances")
    assert status["backend"] == "LOCAL SANDBOX"
    (app,) = status["apps"]
    assert app["name"] == "demo-web"
    assert app["serving_release"] == "v1"
    assert app["load_balancer_url"] == localaws.albs["demo-web"].rstrip("/")
    (group,) = [g for g in app["groups"] if g["role"] == "serving"]
    assert group["release"] == "v1" and group["weight"] > 0
    assert [i["health"] for i in group["instances"]] == ["healthy"] * 3
    assert all(i["boot"]["phase"] == "health" for i in group["instances"])


def test_status_renders_a_table_for_people(
    localaws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = freshfleet(capsys, "status")
    assert code == 0
    assert "LOCAL SANDBOX" in out
    assert "demo-web" in out and "serving" in out


def test_releases_lists_v1_v2_v3(localaws: LocalAws, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = freshfleet(capsys, "releases", "demo-web", "--json")
    assert code == 0
    versions = [r["version"] for r in json.loads(out)["releases"]]
    assert versions[:3] == ["v1", "v2", "v3"]

    code, out, _ = freshfleet(capsys, "releases", "demo-web")
    assert code == 0
    assert all(v in out for v in ("v1", "v2", "v3"))


def demo_release_url(capsys: pytest.CaptureFixture[str], version: str) -> str:
    """The URL the demo's release server serves `version` at (a reachable loopback URL)."""
    code, out, _ = freshfleet(capsys, "releases", "demo-web", "--json")
    assert code == 0
    return next(r["url"] for r in json.loads(out)["releases"] if r["version"] == version)


def test_release_add_records_a_release_once(
    localaws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    url = demo_release_url(capsys, "v2")
    args = ("release", "add", "cli-add", "v1", "--url", url, "--sha256", SHA.upper())
    code, out, err = freshfleet(capsys, *args, "--notes", "from the CLI", "--json")
    assert code == 0, err
    added = json.loads(out)
    assert (added["version"], added["sha256"], added["url"]) == ("v1", SHA, url)

    code, _, err = freshfleet(capsys, *args)
    assert code == 2
    assert "exists already" in err

    code, out, _ = freshfleet(capsys, "releases", "cli-add", "--json")
    assert [r["notes"] for r in json.loads(out)["releases"]] == ["from the CLI"]
    assert [r["health_timeout_seconds"] for r in json.loads(out)["releases"]] == [None]

    # A release's own health timeout for the boot agent (else the rollout derives one).
    own = ("release", "add", "cli-add", "v2", "--url", url, "--sha256", SHA)
    code, out, err = freshfleet(capsys, *own, "--health-timeout", "45", "--json")
    assert code == 0, err
    assert json.loads(out)["health_timeout_seconds"] == 45.0
    code, _, err = freshfleet(capsys, *own[:3], "v3", *own[4:], "--health-timeout", "0")
    assert code == 2 and "health timeout" in err


def test_release_add_refuses_a_url_that_does_not_answer(
    localaws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = demo_release_url(capsys, "v1").replace("v1.tar.gz", "nope.tar.gz")
    for url, why in ((missing, "answered HTTP 404"), ("http://127.0.0.1:9/a.tgz", "cannot reach")):
        code, _, err = freshfleet(
            capsys, "release", "add", "cli-unreachable", "v1", "--url", url, "--sha256", SHA
        )
        assert code == 2, url
        assert why in err and "--no-check-url" in err
    code, _, err = freshfleet(capsys, "releases", "cli-unreachable")
    assert code == 2 and "unknown app" in err, "nothing was written"

    code, _, err = freshfleet(
        capsys, "release", "add", "cli-unreachable", "v1", "--url", missing, "--sha256", SHA,
        "--no-check-url",
    )  # fmt: skip
    assert code == 0, err


def test_release_add_file_uploads_the_tarball_and_records_its_sha256(
    localaws: LocalAws,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    aws_client: Callable[..., Any],
) -> None:
    import hashlib

    tarball = tmp_path / "app-v7.tar.gz"
    tarball.write_bytes(b"not really a tarball, but bytes with a checksum")
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()

    code, out, err = freshfleet(
        capsys, "release", "add", "cli-file", "v7", "--file", str(tarball), "--json"
    )
    assert code == 0, err
    added = json.loads(out)
    assert added["sha256"] == digest
    assert added["url"].startswith("s3://freshfleet-releases-")
    bucket, _, key = added["url"].removeprefix("s3://").partition("/")
    body = aws_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == digest


@pytest.mark.parametrize(
    ("sha256", "why"),
    [("abc123", "64 hexadecimal"), ("g" * 64, "64 hexadecimal"), ("ab" * 33, "64 hexadecimal")],
)
def test_release_add_with_a_bad_sha256_writes_nothing(
    localaws: LocalAws,
    capsys: pytest.CaptureFixture[str],
    aws_client: Callable[..., Any],
    sha256: str,
    why: str,
) -> None:
    url = "https://releases.example.com/x.tar.gz"
    code, _, err = freshfleet(
        capsys, "release", "add", "bad-sha", "v1", "--url", url, "--sha256", sha256
    )
    assert code == 2
    assert why in err
    items = aws_client("dynamodb").query(
        TableName="freshfleet-releases",
        KeyConditionExpression="app = :a",
        ExpressionAttributeValues={":a": {"S": "bad-sha"}},
    )["Items"]
    assert items == []


def test_unknown_app_is_a_clear_bad_input(
    localaws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("status", "releases", "history"):
        code, out, err = freshfleet(capsys, command, "no-such-app")
        assert code == 2, command
        assert "unknown app 'no-such-app'" in err, command
        assert out == ""


def test_history_lists_the_demo_rollout(
    localaws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = freshfleet(capsys, "history", "demo-web", "--json")
    assert code == 0, err
    rollouts = json.loads(out)["rollouts"]
    assert rollouts, "the seed records the initial rollout"
    oldest = rollouts[-1]
    assert (oldest["to_release"], oldest["state"]) == ("v1", "succeeded")
    assert oldest["duration_seconds"] is not None
    ids = [r["rollout_id"] for r in rollouts]
    assert ids == sorted(ids, reverse=True), "newest first"


def test_a_wrong_endpoint_fails_fast_with_the_aws_exit_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = freshfleet(capsys, "status", "--endpoint-url", "http://127.0.0.1:9")
    assert code == 4
    assert "cannot reach http://127.0.0.1:9" in err


def test_missing_tables_say_run_setup_and_nothing_is_written(
    empty_localaws: LocalAws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRESHFLEET_ENDPOINT_FILE", str(empty_localaws.endpoint_file))
    url = empty_localaws.url
    for argv in (
        ("status",),
        ("releases", "demo-web"),
        ("history", "demo-web"),
        ("release", "add", "demo-web", "v9", "--url", "https://x.example/a.tgz", "--sha256", SHA),
    ):
        code, _, err = freshfleet(capsys, *argv, "--endpoint-url", url)
        assert code == 4, argv
        assert "run `freshfleet setup`" in err, argv

    code, out, err = freshfleet(capsys, "setup", "--endpoint-url", url, "--json")
    assert code == 0, err
    assert all(t["created"] for t in json.loads(out)["tables"])
    code, out, _ = freshfleet(capsys, "setup", "--endpoint-url", url, "--json")
    assert not any(t["created"] for t in json.loads(out)["tables"]), "setup is idempotent"
    code, _, err = freshfleet(capsys, "releases", "demo-web", "--endpoint-url", url)
    assert code == 2 and "unknown app" in err, "the refused release add wrote nothing"


def test_logs_follow_prints_each_phase_line_once_as_it_appears(
    localaws: LocalAws, aws_client: Callable[..., Any], tmp_path: Path
) -> None:
    from rollout.model import Release
    from rollout.userdata import UserDataContext, render_user_data

    release = Release("logs-demo", "v1", "http://127.0.0.1:1/r.tgz", SHA)
    user_data = render_user_data(release, UserDataContext("20261127-120000-abcd", "us-east-1"))
    ec2 = aws_client("ec2")
    (instance,) = ec2.run_instances(
        ImageId="ami-03cf127a", MinCount=1, MaxCount=1, UserData=user_data
    )["Instances"]
    instance_id = instance["InstanceId"]
    env = {**os.environ, "FRESHFLEET_ENDPOINT_FILE": str(localaws.endpoint_file)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "console.main", "logs", instance_id, "-f", "--interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    watchdog = threading.Timer(60, proc.kill)  # a hung follower fails the test, not the run
    watchdog.start()
    try:
        assert proc.stdout is not None
        lines = iter(proc.stdout)
        phases: list[str] = []
        for line in lines:
            if line.startswith("freshfleet-boot "):
                phases.append(" ".join(line.split()[2:4]))
            if phases and phases[-1] in ("health ok", "health fail"):
                break
        assert phases[0] == "fetch start"
        assert len(phases) == len(set(phases)), f"a line printed twice: {phases}"
        expected = ["fetch", "verify", "extract", "build", "run", "health"]
        assert [p.split()[0] for p in phases[::2]] == expected[: len(phases[::2])]

        # The instance ends while we follow: its last console line arrives, once.
        ec2.terminate_instances(InstanceIds=[instance_id])
        later: list[str] = []
        for line in lines:
            later.append(line)
            if "Power Off" in line:
                break
        assert proc.poll() is None, "logs -f keeps following"
        assert sum("Power Off" in line for line in later) == 1
        assert not any(line.startswith("freshfleet-boot ") for line in later), "no repeats"
    finally:
        watchdog.cancel()
        proc.terminate()
        proc.wait(timeout=10)


def test_logs_of_an_unknown_instance_is_a_clear_bad_input(
    localaws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = freshfleet(capsys, "logs", "i-0123456789abcdef0")
    assert code == 2
    assert "no instance i-0123456789abcdef0" in err
    code, _, err = freshfleet(capsys, "logs", "web-1")
    assert code == 2
    assert "not an instance id" in err


@pytest.mark.parametrize(
    ("flags", "why"),
    [
        (["--port", "0"], "not a TCP port"),
        (["--port", "65536"], "not a TCP port"),
        (["--port", "-1"], "not a TCP port"),
        (["--health-path", ""], "health path"),
        (["--health-path", "health"], "health path"),
        (["--health-path", "/" + "a" * 1024], "health path"),  # ELB's limit is 1,024
    ],
    ids=["port-0", "port-65536", "port-negative", "empty-path", "relative-path", "long-path"],
)
def test_release_add_refuses_a_release_that_can_never_deploy(
    localaws: LocalAws,
    capsys: pytest.CaptureFixture[str],
    aws_client: Callable[..., Any],
    flags: list[str],
    why: str,
) -> None:
    url = "https://releases.example.com/x.tar.gz"
    code, _, err = freshfleet(
        capsys, "release", "add", "never-deploys", "v1", "--url", url, "--sha256", SHA,
        "--no-check-url", *flags,
    )  # fmt: skip
    assert code == 2, err
    assert why in err
    items = aws_client("dynamodb").query(
        TableName="freshfleet-releases",
        KeyConditionExpression="app = :a",
        ExpressionAttributeValues={":a": {"S": "never-deploys"}},
    )["Items"]
    assert items == []


def test_a_stored_url_with_credentials_is_listed_without_them(
    localaws: LocalAws, capsys: pytest.CaptureFixture[str], aws_client: Callable[..., Any]
) -> None:
    """A release recorded before URLs with credentials were refused (or by another tool)."""
    url = "https://deploy:s3cret@releases.example.com/old.tar.gz"
    aws_client("dynamodb").put_item(
        TableName="freshfleet-releases",
        Item={
            "app": {"S": "old-creds"},
            "version": {"S": "v1"},
            "url": {"S": url},
            "sha256": {"S": SHA},
            "port": {"N": "8080"},
            "health_path": {"S": "/health"},
        },
    )
    for flags in ([], ["--json"]):
        code, out, err = freshfleet(capsys, "releases", "old-creds", *flags)
        assert code == 0, err
        assert "s3cret" not in out + err
        assert "***@releases.example.com" in out


@pytest.mark.parametrize("hours", ["nan", "inf", "-inf", "0", "-1", "1e9", "soon"])
def test_lock_hours_must_be_a_positive_finite_number(
    localaws: LocalAws,
    capsys: pytest.CaptureFixture[str],
    aws_client: Callable[..., Any],
    hours: str,
) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["lock", "lock-hours", "-m", "maintenance", "--hours", hours])
    assert refused.value.code == 2
    assert "--hours" in capsys.readouterr().err
    got = aws_client("dynamodb").get_item(
        TableName="freshfleet-locks", Key={"app": {"S": "lock-hours"}}, ConsistentRead=True
    )
    assert "Item" not in got
