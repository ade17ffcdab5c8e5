"""Every AWS call freshfleet makes is allowed by the policy of the role that makes it.

The suite-wide check lives in `tests/aws_calls.py` (a plugin that records every call of the
run and fails the session on a call outside its role's policy). These tests make the same
check robust on their own: they drive what a user does on a fresh account — setup, init,
release add --file, a first deploy, status, releases, history, logs, doctor — and the boot
agent's calls, with the recorder on, and check each call against iam/*.json.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path
from typing import Any

import aws_calls
import boto3
import botocore.session
import pytest
from aws_calls import (
    AGENT,
    BY_HAND,
    ENGINE,
    AwsCall,
    allows,
    describe_missing,
    missing_from_policies,
    policy_actions,
    recording,
)
from botocore import xform_name

from bootscript.agent import aws as agent_aws
from bootscript.agent.container import ssm_environment
from bootscript.agent.fetch import fetch
from bootscript.agent.report import PhaseReporter
from console.main import main
from localaws.process import LocalAws
from tests.iam.policy_eval import Request
from tests.iam.policy_eval import allowed as allowed_by

IMAGE_ID = "ami-03cf127a"


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "freshfleet")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "freshfleet")


def _cli(url: str, *argv: str) -> int:
    return main([*argv, "--endpoint-url", url, "--region", "us-east-1"])


def _tarball(path: Path) -> Path:
    body = b"FROM scratch\n"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    return path


def _actions(calls: list[AwsCall], role: str) -> set[str]:
    return {c.action for c in calls if c.role == role}


def test_a_first_deploy_and_the_boot_agent_stay_within_their_policies(
    empty_localaws: LocalAws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = empty_localaws.url
    with recording(tmp_path / "deployer.jsonl") as deployer:
        assert _cli(url, "setup") == 0
        assert _cli(url, "init", "shop", "--image-id", IMAGE_ID, "-y") == 0
        tarball = _tarball(tmp_path / "shop-v1.tar.gz")
        assert _cli(url, "release", "add", "shop", "v1", "--file", str(tarball)) == 0
        assert _cli(url, "deploy", "shop", "v1", "--capacity", "2", "--bake", "1", "-y") == 0
        assert _cli(url, "doctor", "--app", "shop") == 0
    capsys.readouterr()

    with recording(tmp_path / "readonly.jsonl") as readonly:
        assert _cli(url, "status", "--json") == 0
        instance_id = _an_instance_of(url, "shop")
        assert _cli(url, "releases", "shop") == 0
        assert _cli(url, "history", "shop") == 0
        assert _cli(url, "logs", instance_id) == 0
        assert _cli(url, "doctor", "--app", "shop", "--role", "readonly") == 0
    capsys.readouterr()

    with recording(tmp_path / "agent.jsonl") as agent:
        # What the boot agent does on an instance with the instance role.
        boto3.client("ssm", endpoint_url=url, region_name="us-east-1").put_parameter(
            Name="/freshfleet/shop/DATABASE_URL", Value="x", Type="SecureString"
        )
        ssm = agent_aws.client("ssm", "us-east-1", url)
        assert ssm_environment(ssm, "/freshfleet/shop/") == {"DATABASE_URL": "x"}
        fetch(
            _release_url(url),
            tmp_path / "fetched.tar.gz",
            s3_client=lambda: agent_aws.client("s3", "us-east-1", url),
            bucket_owner="123456789012",  # the instance's account, from IMDS
        )
        reporter = PhaseReporter(
            instance_id=instance_id,
            instance_arn=_arn_of(instance_id),
            app="shop",
            release="v1",
            rollout="r-1",
            table="freshfleet-instances",
            table_client=lambda: agent_aws.client("dynamodb", "us-east-1", url),
            console=io.StringIO(),
        )
        reporter.event("health", "ok")
    _the_agents_calls_meet_the_instance_roles_conditions(url, instance_id)

    # The recorder saw what each role did...
    made = _actions(deployer.calls(), ENGINE)
    assert {
        "dynamodb:CreateTable",
        "ec2:CreateSecurityGroup",
        "elasticloadbalancing:CreateLoadBalancer",
        "elasticloadbalancing:CreateListener",
        "ec2:CreateLaunchTemplate",
        "s3:PutObject",
        "autoscaling:CreateAutoScalingGroup",
        "elasticloadbalancing:ModifyListener",
        "sts:GetCallerIdentity",
    } <= made
    watched = _actions(readonly.calls(), ENGINE)
    assert {"ec2:DescribeInstances", "ec2:GetConsoleOutput", "dynamodb:Query"} <= watched
    assert _actions(agent.calls(), AGENT) == {
        "ssm:GetParametersByPath",
        "s3:GetObject",
        "dynamodb:PutItem",
    }

    # ...and each call is allowed by its role's policy.
    missing = missing_from_policies(deployer.calls() + agent.calls())
    assert not missing, describe_missing(missing)
    read_only = [c for c in readonly.calls() if c.role == ENGINE]
    denied = [c for c in read_only if not allows(policy_actions("readonly"), c.action)]
    assert not denied, "add to iam/readonly.json: " + ", ".join(c.action for c in denied)


def _the_agents_calls_meet_the_instance_roles_conditions(url: str, instance_id: str) -> None:
    """What the agent read and wrote is within the conditions of iam/instance-role.json for
    its app (key and attributes of its boot report, its app's release and parameters)."""
    policy = json.loads(
        (aws_calls.POLICY_DIR / "instance-role.json").read_text().replace("APP", "shop")
    )
    table = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1")
    key = {"instance_arn": {"S": _arn_of(instance_id)}}
    item = table.get_item(TableName="freshfleet-instances", Key=key)
    written = {
        "dynamodb:LeadingKeys": [item["Item"]["instance_arn"]["S"]],
        "dynamodb:Attributes": sorted(item["Item"]),
        # What IAM gives the role's sessions on that instance.
        "ec2:SourceInstanceARN": _arn_of(instance_id),
    }
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/freshfleet-instances"
    assert allowed_by(policy, Request("dynamodb:PutItem", arn, written)), written
    release = "arn:aws:s3:::" + _release_url(url).removeprefix("s3://")
    assert allowed_by(policy, Request("s3:GetObject", release)), release
    path = "arn:aws:ssm:us-east-1:123456789012:parameter/freshfleet/shop"
    assert allowed_by(policy, Request("ssm:GetParametersByPath", path))


def _arn_of(instance_id: str) -> str:
    return f"arn:aws:ec2:us-east-1:123456789012:instance/{instance_id}"


def _an_instance_of(url: str, app: str) -> str:
    ec2 = boto3.client("ec2", endpoint_url=url, region_name="us-east-1")
    found = ec2.describe_instances(
        Filters=[
            {"Name": "tag:freshfleet:app", "Values": [app]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ]
    )
    return str(found["Reservations"][0]["Instances"][0]["InstanceId"])


def _release_url(url: str) -> str:
    table = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1")
    item = table.get_item(
        TableName="freshfleet-releases", Key={"app": {"S": "shop"}, "version": {"S": "v1"}}
    )["Item"]
    return str(item["url"]["S"])


SYNTHETIC = """
import contextlib
import boto3
from botocore.config import Config

def call(service, operation):
    client = boto3.client(
        service, endpoint_url="http://127.0.0.1:9", region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}, connect_timeout=0.5),
    )
    with contextlib.suppress(Exception):  # nothing listens: the call is recorded, then fails
        getattr(client, operation)()
"""


def _as_module(name: str) -> dict[str, Any]:
    """A namespace whose calls the recorder attributes to module `name`."""
    namespace: dict[str, Any] = {"__name__": name}
    exec(compile(SYNTHETIC, name, "exec"), namespace)
    return namespace


def test_a_new_aws_call_without_a_policy_change_is_named_with_the_policy_to_change(
    tmp_path: Path,
) -> None:
    engine_feature = _as_module("rollout.synthetic_feature")
    agent_feature = _as_module("bootscript.agent.synthetic_feature")
    # exclusive: these calls are outside the policies on purpose; the session must not see them
    with recording(tmp_path / "calls.jsonl", exclusive=True) as recorder:
        engine_feature["call"]("sts", "get_session_token")
        agent_feature["call"]("ssm", "describe_parameters")
        engine_feature["call"]("sts", "get_caller_identity")  # allowed: not reported

    missing = missing_from_policies(recorder.calls())
    assert [(c.role, c.action) for c in missing] == [
        (AGENT, "ssm:DescribeParameters"),
        (ENGINE, "sts:GetSessionToken"),
    ]
    report = describe_missing(missing)
    assert "sts:GetSessionToken (by engine in rollout.synthetic_feature)" in report
    assert "add it to iam/deployer.json" in report
    assert "add it to iam/instance-role.json" in report


def test_the_suite_wide_check_fails_a_run_whose_code_makes_an_unlisted_call(
    tmp_path: Path,
) -> None:
    """The plugin, as tests/conftest.py loads it, turns a green run red on a new call."""
    (tmp_path / "test_new_feature.py").write_text(
        textwrap.dedent(
            f"""
            SYNTHETIC = {SYNTHETIC!r}

            def _feature(operation):
                namespace = {{"__name__": "rollout.new_feature"}}
                exec(compile(SYNTHETIC, "rollout.new_feature", "exec"), namespace)
                namespace["call"]("sts", operation)

            def test_feature():
                import os
                _feature(os.environ["SYNTHETIC_OPERATION"])
            """
        )
    )
    tests_dir = Path(aws_calls.__file__).parent

    def run(operation: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "PYTHONPATH": str(tests_dir),
            "SYNTHETIC_OPERATION": operation,
        }
        env.pop(aws_calls.ENV, None)
        plugins = ("-p", "aws_calls", "-p", "no:cacheprovider")
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                *plugins,
                "--rootdir",
                str(tmp_path),
                str(tmp_path),
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    # (A run whose calls are all allowed passes: the whole suite, with the plugin loaded.)
    new_call = run("get_session_token")
    assert new_call.returncode == 1, new_call.stdout + new_call.stderr
    assert "1 passed" in new_call.stdout  # the test itself passed: the policy check failed
    assert "sts:GetSessionToken (by engine in rollout.new_feature)" in new_call.stdout
    assert "add it to iam/deployer.json" in new_call.stdout


@pytest.mark.parametrize(
    ("policy", "action"),
    [(policy, action) for policy, actions in BY_HAND.items() for action in actions],
)
def test_permissions_aws_checks_without_a_call_of_ours_are_granted(
    policy: str, action: str
) -> None:
    """Listed by hand in aws_calls.BY_HAND, each with the reason AWS checks it."""
    assert allows(policy_actions(policy), action), f"{action}: {BY_HAND[policy][action]}"


def test_the_read_only_policy_grants_no_write() -> None:
    writes = [
        a
        for a in policy_actions("readonly")
        if not a.split(":")[1].startswith(("Describe", "Get", "List", "Query", "Scan", "Batch"))
        and a != "iam:SimulatePrincipalPolicy"
    ]
    assert writes == []
    assert "dynamodb:BatchWriteItem" not in policy_actions("readonly")


# gw.call / gw.paginate / their *_in_thread twins (the observer names one `sweep`)
_GATEWAY_CALL = re.compile(
    r"(?:\.(?:call|paginate|call_in_thread|paginate_in_thread)|\bsweep)\(\s*\"(\w+)\",\s*\"(\w+)\"",
    re.S,
)


def _gateway_calls_in_source() -> dict[str, set[str]]:
    """IAM action -> modules, for every `gw.call("svc", "op")`/`paginate` written in our code,
    exercised by a test or not."""
    session = botocore.session.get_session()
    root = aws_calls.POLICY_DIR.parent  # the source tree
    found: dict[str, set[str]] = {}
    for package in ("rollout", "console"):
        for path in (root / package).rglob("*.py"):
            for service, snake in _GATEWAY_CALL.findall(path.read_text()):
                model = session.get_service_model(service)
                camel = {xform_name(op): op for op in model.operation_names}[snake]
                action = aws_calls.iam_action(model.signing_name, camel)
                found.setdefault(action, set()).add(str(path.relative_to(root)))
    return found


def test_every_aws_call_written_in_the_engine_is_in_the_deployer_policy() -> None:
    """Also the calls no test reaches: a new `gw.call(...)` needs its policy change."""
    written = _gateway_calls_in_source()
    assert "elasticloadbalancing:ModifyListener" in written  # the scan sees the engine's calls
    missing = {a: m for a, m in written.items() if not allows(policy_actions("deployer"), a)}
    assert not missing, "add to iam/deployer.json: " + ", ".join(
        f"{a} (in {', '.join(sorted(m))})" for a, m in sorted(missing.items())
    )
