"""`freshfleet doctor`: a line per check, green or red with the fix."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from doctor.conftest import IMAGE_ID
from localaws.process import LocalAws
from localaws.testing import boto3_client
from rollout.aws.backend import Backend
from rollout.aws.gateway import Gateway
from rollout.config import Tables
from rollout.ledger.tables import setup_tables
from rollout.readiness.doctor import Verdict, clock_check, run_doctor
from rollout.readiness.iam_simulation import (
    concrete_actions,
    policy_actions,
    principal_arn,
    simulations,
)

Cli = Callable[..., int]


def _setup(url: str) -> None:
    async def go() -> None:
        async with Gateway(Backend(endpoint_url=url, region="us-east-1", local=True)) as gw:
            await setup_tables(gw, Tables())

    asyncio.run(go())


def _doctor_json(
    freshfleet: Cli, capsys: pytest.CaptureFixture[str], url: str, *argv: str
) -> tuple[int, dict[str, dict[str, Any]]]:
    code = freshfleet(url, "doctor", "--json", *argv)
    report = json.loads(capsys.readouterr().out)
    return code, {c["name"]: c for c in report["checks"]}


def test_doctor_is_green_on_the_demo(
    freshfleet: Cli, localaws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    code, checks = _doctor_json(freshfleet, capsys, localaws.url, "--app", "demo-web")
    assert code == 0, checks
    for name in ("credentials", "region", "clock", "launch template", "IMDSv2", "listener"):
        assert checks[name]["verdict"] == "ok", checks[name]
    assert checks["table freshfleet-rollouts"]["verdict"] == "ok"
    assert checks["server groups"]["verdict"] == "ok"
    assert checks["target group"]["verdict"] == "ok"
    assert checks["release"]["verdict"] == "ok"
    assert checks["release URL"]["verdict"] == "ok"
    assert checks["app answers"]["verdict"] == "ok", checks["app answers"]
    # moto has no policy simulator: shown as unavailable, which is not red.
    assert checks["permissions (deployer)"]["verdict"] == "unavailable"


def test_doctor_names_each_missing_piece_of_a_half_set_up_account_with_its_fix(
    freshfleet: Cli, empty_localaws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    url = empty_localaws.url
    # Nothing set up: the four tables and the app's pieces are missing.
    assert freshfleet(url, "doctor", "--app", "shop") == 1
    shown = capsys.readouterr().out
    for table in ("releases", "rollouts", "locks", "instances"):
        assert f"✗ table freshfleet-{table}" in shown
    assert shown.count("fix: run `freshfleet setup`") == 4
    assert "✗ launch template" in shown and "freshfleet-shop missing" in shown
    assert "fix: run `freshfleet init shop" in shown
    assert "✗ listener" in shown
    assert "✓ credentials" in shown and "✓ region" in shown and "✓ clock" in shown
    assert "permissions (deployer)" in shown and "(unavailable)" in shown
    assert "checks failed" in shown

    # Tables set up: only the app is missing.
    _setup(url)
    code, checks = _doctor_json(freshfleet, capsys, url, "--app", "shop")
    assert code == 1
    assert all(checks[f"table freshfleet-{t}"]["verdict"] == "ok" for t in ("releases", "locks"))
    assert checks["launch template"]["verdict"] == "fail"
    assert checks["listener"]["verdict"] == "fail"

    # init, then doctor is green: the app is only not deployed yet.
    assert freshfleet(url, "init", "shop", "--image-id", IMAGE_ID, "-y") == 0
    capsys.readouterr()
    code, checks = _doctor_json(freshfleet, capsys, url, "--app", "shop")
    assert code == 0, checks
    assert checks["launch template"]["verdict"] == "ok"
    assert checks["IMDSv2"]["verdict"] == "ok"
    assert checks["listener"]["verdict"] == "ok"
    assert checks["server groups"]["verdict"] == "warn"
    assert "freshfleet deploy shop VERSION --capacity 2" in checks["server groups"]["fix"]
    assert checks["instance profile"]["verdict"] == "warn"


def test_doctor_turns_red_on_imdsv1_and_a_missing_instance_profile(
    freshfleet: Cli, localaws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    app = "doctor-imdsv1"
    ec2, iam = boto3_client("ec2", localaws.url), boto3_client("iam", localaws.url)
    ec2.create_launch_template(
        LaunchTemplateName=f"freshfleet-{app}",
        LaunchTemplateData={"ImageId": IMAGE_ID, "IamInstanceProfile": {"Name": f"{app}-role"}},
    )
    code, checks = _doctor_json(freshfleet, capsys, localaws.url, "--app", app)
    assert code == 1
    assert checks["IMDSv2"]["verdict"] == "fail"
    assert "HttpTokens" in checks["IMDSv2"]["fix"]
    # Made by hand, untagged: the deployer policy could not add versions to it.
    assert checks["launch template"]["verdict"] == "warn"
    assert "aws ec2 create-tags" in checks["launch template"]["fix"]
    assert checks["instance profile"]["verdict"] == "fail"
    assert "does not exist" in checks["instance profile"]["detail"]

    # The profile made, with a role: that check turns green.
    iam.create_role(RoleName=f"{app}-role", AssumeRolePolicyDocument="{}")
    iam.create_instance_profile(InstanceProfileName=f"{app}-role")
    iam.add_role_to_instance_profile(InstanceProfileName=f"{app}-role", RoleName=f"{app}-role")
    code, checks = _doctor_json(freshfleet, capsys, localaws.url, "--app", app)
    assert checks["instance profile"]["verdict"] == "ok"


async def test_doctor_without_working_credentials_fails_fast_and_skips_the_rest() -> None:
    backend = Backend(endpoint_url="http://127.0.0.1:9", region="us-east-1")
    async with Gateway(backend, max_attempts=1) as gw:
        report = await run_doctor(gw, Tables(), app="shop")
    assert report.check("credentials").verdict is Verdict.FAIL  # type: ignore[union-attr]
    assert report.aws_failed
    assert {c.verdict for c in report.checks[1:]} == {Verdict.SKIPPED}


def test_doctor_exits_4_when_aws_does_not_answer(
    freshfleet: Cli, capsys: pytest.CaptureFixture[str]
) -> None:
    assert freshfleet("http://127.0.0.1:9", "doctor", "--app", "shop") == 4
    shown = capsys.readouterr().out
    assert "✗ credentials" in shown and "cannot reach http://127.0.0.1:9" in shown
    assert "fix: check the endpoint" in shown


def test_a_clock_far_from_aws_is_red_and_a_little_off_is_a_warning() -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    def header(skew: float) -> dict[str, str]:
        return {"date": format_datetime(now - timedelta(seconds=skew), usegmt=True)}

    assert clock_check(header(1), now).verdict is Verdict.OK
    assert clock_check(header(-45), now).verdict is Verdict.WARN
    late = clock_check(header(400), now)
    assert late.verdict is Verdict.FAIL and late.aws
    assert "400 s ahead of AWS" in late.detail
    assert clock_check({}, now).verdict is Verdict.UNAVAILABLE


def test_an_assumed_role_session_is_simulated_as_its_role() -> None:
    arn = "arn:aws:sts::123456789012:assumed-role/freshfleet-deployer/alice"
    assert principal_arn(arn) == "arn:aws:iam::123456789012:role/freshfleet-deployer"
    user = "arn:aws:iam::123456789012:user/alice"
    assert principal_arn(user) == user


def test_the_simulator_is_asked_about_the_resources_and_tags_freshfleet_uses() -> None:
    actions = concrete_actions(policy_actions("deployer"))
    requests = simulations(
        actions,
        caller_arn="arn:aws:sts::123456789012:assumed-role/deployer/alice",
        region="eu-west-1",
        tables=Tables(),
        app="shop",
        instance_role_arn="arn:aws:iam::123456789012:role/freshfleet-shop-instance",
    )
    by_action = {a: r for r in requests for a in r.actions}
    assert sorted(by_action) == sorted(actions)  # every action asked once
    assert by_action["iam:PassRole"].resource.endswith(":role/freshfleet-shop-instance")
    assert by_action["dynamodb:PutItem"].resource == (
        "arn:aws:dynamodb:eu-west-1:123456789012:table/freshfleet-releases"
    )
    assert by_action["s3:PutObject"].resource.startswith(
        "arn:aws:s3:::freshfleet-releases-123456789012-eu-west-1/releases/shop/"
    )
    assert by_action["elasticloadbalancing:ModifyListener"].resource == "*"
    context = {e["ContextKeyName"]: e["ContextKeyValues"] for e in requests[0].context}
    assert context["aws:ResourceTag/freshfleet:app"] == ["shop"]
    assert context["iam:PassedToService"] == ["ec2.amazonaws.com"]
    params = by_action["iam:PassRole"].params("arn:aws:iam::123456789012:role/deployer")
    assert params["ResourceArns"] == [by_action["iam:PassRole"].resource]


def test_doctor_on_the_sandbox_does_not_warn_that_s3_releases_and_boot_phases_fail(
    freshfleet: Cli,
    localaws: LocalAws,
    localaws_endpoint_env: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Both work there: localaws gives its instances its endpoint and credentials.
    _, checks = _doctor_json(freshfleet, capsys, localaws.url, "--app", "demo-web")
    profile = checks["instance profile"]
    assert profile["verdict"] == "ok", profile
    assert "local sandbox" in profile["detail"]
