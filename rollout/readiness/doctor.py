"""`freshfleet doctor`: is this account (and this app) ready for freshfleet? One check per line.

Each check says what it found and, when it is not green, the fix. Nothing is printed here:
`run_doctor` returns a `DoctorReport` that the faces render. A failed credentials check
skips the rest (every other check would fail for the same reason).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from botocore.parsers import ResponseParserError

from rollout.aws.gateway import AccessDenied, AwsError, CredentialsError, Gateway
from rollout.config import Tables
from rollout.ledger.tables import table_specs
from rollout.readiness.doctor_app import check_app, http_check
from rollout.readiness.iam_simulation import (
    POLICY_DIR,
    concrete_actions,
    denied_actions,
    policy_actions,
    principal_arn,
    simulations,
)
from rollout.readiness.report import Check, Diagnosis, DoctorReport, Verdict, policy_fix

__all__ = ["ROLES", "Check", "DoctorReport", "Verdict", "clock_check", "http_check", "run_doctor"]

ROLES = ("deployer", "readonly")
CLOCK_SKEW_WARN_SECONDS = 30.0
# SigV4 rejects requests signed more than 5 minutes away from AWS's clock.
CLOCK_SKEW_FAIL_SECONDS = 300.0


async def run_doctor(
    gw: Gateway,
    tables: Tables,
    *,
    app: str | None = None,
    role: str = "deployer",
    http_timeout: float = 3.0,
) -> DoctorReport:
    """Run every check that applies and return them all; never raises for a red check.

    `role` names the policy (`deployer` or `readonly`) whose actions the caller should
    have. Checks of an app run only when `app` is given.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    doc = Diagnosis(gw, tables, app, role, http_timeout)
    if await _credentials(doc):
        await _tables(doc)
        if app:
            await check_app(doc, app)
        await _permissions(doc)
    return DoctorReport(
        checks=tuple(doc.checks),
        app=app or "",
        role=role,
        caller_arn=doc.caller_arn,
        account=doc.account,
        region=doc.region,
    )


async def _credentials(doc: Diagnosis) -> bool:
    """Credentials, caller identity, region and clock skew: all from one STS call."""
    try:
        sts = await doc.gw.client("sts")
        doc.region = str(sts.meta.region_name or "")
        ident = await doc.gw.call("sts", "get_caller_identity")
    except CredentialsError as exc:
        doc.aws_failure("credentials", exc, _CREDENTIALS_FIX)
        _skip_rest(doc, "no working credentials")
        return False
    except AwsError as exc:
        if exc.code == "NoRegion":
            doc.aws_failure("region", exc, _REGION_FIX)
        else:
            doc.aws_failure("credentials", exc, _ENDPOINT_FIX)
        _skip_rest(doc, "AWS did not answer")
        return False
    doc.caller_arn = str(ident.get("Arn", ""))
    doc.account = str(ident.get("Account", ""))
    doc.add("credentials", Verdict.OK, f"{doc.caller_arn} (account {doc.account})")
    if doc.region:
        where = doc.gw.backend.endpoint_url or "AWS"
        doc.add("region", Verdict.OK, f"{doc.region} at {where}")
    else:
        doc.add("region", Verdict.FAIL, "no region configured", _REGION_FIX, aws=True)
    doc.checks.append(clock_check(ident.get("ResponseMetadata", {}).get("HTTPHeaders", {})))
    return True


def clock_check(headers: dict[str, Any], now: datetime | None = None) -> Check:
    """Compare the Date header of an AWS response with the local clock."""
    raw = headers.get("date", "")
    try:
        aws_time = parsedate_to_datetime(str(raw))
    except (TypeError, ValueError):
        return Check("clock", Verdict.UNAVAILABLE, "the response carried no Date header")
    skew = ((now or datetime.now(UTC)) - aws_time).total_seconds()
    side = "ahead of" if skew > 0 else "behind"
    detail = f"local clock {abs(skew):.0f} s {side} AWS"
    fix = "sync the clock (e.g. `timedatectl set-ntp true` or chrony)"
    if abs(skew) > CLOCK_SKEW_FAIL_SECONDS:
        return Check("clock", Verdict.FAIL, detail + ": AWS rejects such requests", fix, aws=True)
    if abs(skew) > CLOCK_SKEW_WARN_SECONDS:
        return Check("clock", Verdict.WARN, detail, fix)
    return Check("clock", Verdict.OK, detail)


async def _tables(doc: Diagnosis) -> None:
    """Each ledger table exists, is ACTIVE and has the keys (and index) freshfleet expects."""
    for spec in table_specs(doc.tables):
        name = spec["TableName"]
        check = f"table {name}"
        try:
            table = (await doc.gw.call("dynamodb", "describe_table", TableName=name))["Table"]
        except AccessDenied as exc:
            doc.aws_failure(check, exc, policy_fix(doc.role))
            continue
        except AwsError as exc:
            if exc.code == "ResourceNotFoundException":
                doc.add(check, Verdict.FAIL, "missing", "run `freshfleet setup`")
            else:
                doc.aws_failure(check, exc)
            continue
        want = _keys(spec["KeySchema"])
        have = _keys(table.get("KeySchema", []))
        if have != want:
            doc.add(
                check,
                Verdict.FAIL,
                f"keys {_show_keys(have)}, expected {_show_keys(want)}",
                "this table was not made by `freshfleet setup`: choose another table "
                "prefix in freshfleet.toml ([tables] prefix) and run `freshfleet setup`",
            )
            continue
        indexes = {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}
        missing = [
            i["IndexName"]
            for i in spec.get("GlobalSecondaryIndexes", [])
            if i["IndexName"] not in indexes
        ]
        if missing:
            doc.add(
                check,
                Verdict.FAIL,
                f"index {', '.join(missing)} missing",
                f"add the index (see `freshfleet setup`) or delete {name} and run "
                "`freshfleet setup`",
            )
            continue
        status = table.get("TableStatus", "")
        if status != "ACTIVE":
            doc.add(check, Verdict.WARN, f"status {status}", "wait a minute and run doctor again")
            continue
        doc.add(check, Verdict.OK, f"keys {_show_keys(have)}")


def _keys(schema: Sequence[dict[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k["KeyType"], k["AttributeName"]) for k in schema))


def _show_keys(keys: tuple[tuple[str, str], ...]) -> str:
    names = {"HASH": "pk", "RANGE": "sk"}
    return ", ".join(f"{names.get(kind, kind)} {attr}" for kind, attr in keys) or "none"


async def _permissions(doc: Diagnosis) -> None:
    """Ask IAM's policy simulator whether the caller has the chosen role's actions."""
    name = f"permissions ({doc.role})"
    try:
        actions = concrete_actions(policy_actions(doc.role))
    except OSError:  # neither the source tree's iam/ nor the installed copy is there
        where = POLICY_DIR / f"{doc.role}.json"
        doc.add(name, Verdict.UNAVAILABLE, f"{where} is not installed here")
        return
    requests = simulations(
        actions,
        caller_arn=doc.caller_arn,
        region=doc.region,
        tables=doc.tables,
        app=doc.app or "",
        instance_role_arn=doc.instance_role_arn,
    )
    principal = principal_arn(doc.caller_arn)
    results: list[dict[str, Any]] = []
    # A failing simulator must not cost the adaptive retries of the shared clients.
    async with Gateway(doc.gw.backend, max_attempts=1, session=doc.gw.session) as quick:
        try:
            for request in requests:
                got = await quick.call(
                    "iam", "simulate_principal_policy", **request.params(principal)
                )
                results.extend(got.get("EvaluationResults", []))
        except AccessDenied:
            doc.add(
                name,
                Verdict.UNAVAILABLE,
                "the caller may not use the policy simulator (iam:SimulatePrincipalPolicy)",
            )
            return
        except AwsError as exc:
            doc.add(name, Verdict.UNAVAILABLE, f"the policy simulator did not answer ({exc.code})")
            return
        except ResponseParserError:  # an endpoint without the simulator (moto) answers HTML
            doc.add(name, Verdict.UNAVAILABLE, "this endpoint has no policy simulator")
            return
    denied = denied_actions(results)
    if denied:
        doc.add(
            name,
            Verdict.FAIL,
            f"{len(denied)} of {len(actions)} actions denied: {', '.join(denied)}",
            policy_fix(doc.role),
            aws=True,
        )
    else:
        doc.add(name, Verdict.OK, f"all {len(actions)} actions allowed")


def _skip_rest(doc: Diagnosis, why: str) -> None:
    for name in ("tables", "app", f"permissions ({doc.role})"):
        if name == "app" and not doc.app:
            continue
        doc.add(name, Verdict.SKIPPED, why)


_CREDENTIALS_FIX = (
    "sign in (e.g. `aws sso login --profile NAME`), then pass --profile NAME or set AWS_PROFILE"
)
_ENDPOINT_FIX = (
    "check the endpoint (--endpoint-url), the network and the region; for the local sandbox, "
    "start it with `freshfleet localaws`"
)
_REGION_FIX = "pass --region REGION or set AWS_REGION (or `region` in the profile)"
