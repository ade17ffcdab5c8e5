"""`freshfleet doctor`: is this account (and this app) ready for freshfleet? One check per line.

Each check says what it found and, when it is not green, the fix. Nothing is printed here:
`run_doctor` returns a `DoctorReport` that the faces render. A failed credentials check
skips the rest (every other check would fail for the same reason).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from botocore.parsers import ResponseParserError

from rollout.config import Tables
from rollout.gateway import AccessDenied, AwsError, CredentialsError, Gateway
from rollout.iam_simulation import (
    concrete_actions,
    denied_actions,
    policy_actions,
    principal_arn,
    simulations,
)
from rollout.ledger.releases import get_release
from rollout.ledger.tables import table_specs
from rollout.model import TAG_APP
from rollout.naming import launch_template_name
from rollout.rollouts.errors import RolloutInputError
from rollout.rollouts.groups import app_groups, serving_group
from rollout.rollouts.traffic import TrafficPoint, find_traffic_point, read_weights

ROLES = ("deployer", "readonly")
CLOCK_SKEW_WARN_SECONDS = 30.0
# SigV4 rejects requests signed more than 5 minutes away from AWS's clock.
CLOCK_SKEW_FAIL_SECONDS = 300.0


class Verdict(enum.StrEnum):
    """A check's outcome. Only FAIL is red; the others keep `doctor` green."""

    OK = "ok"
    WARN = "warn"  # works, but something a user should know (e.g. not deployed yet)
    FAIL = "fail"
    UNAVAILABLE = "unavailable"  # the endpoint cannot answer this check (e.g. no simulator)
    SKIPPED = "skipped"  # an earlier failure makes this check meaningless


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the doctor's report."""

    name: str
    verdict: Verdict
    detail: str
    fix: str = ""
    aws: bool = False  # a failure of AWS itself or of the credentials (exit 4), not of setup

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "verdict": str(self.verdict),
            "detail": self.detail,
            "fix": self.fix,
            "aws": self.aws,
        }


@dataclass(frozen=True, slots=True)
class DoctorReport:
    """Every check, in the order they ran."""

    checks: tuple[Check, ...] = ()
    app: str = ""
    role: str = "deployer"
    caller_arn: str = ""
    account: str = ""
    region: str = ""

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.verdict is Verdict.FAIL)

    @property
    def green(self) -> bool:
        return not self.failed

    @property
    def aws_failed(self) -> bool:
        """True when an AWS or credentials check is red (exit 4 rather than 1)."""
        return any(c.aws for c in self.failed)

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "green": self.green,
            "app": self.app,
            "role": self.role,
            "caller_arn": self.caller_arn,
            "account": self.account,
            "region": self.region,
            "checks": [c.as_dict() for c in self.checks],
        }


@dataclass
class _Doctor:
    gw: Gateway
    tables: Tables
    app: str | None
    role: str
    http_timeout: float
    checks: list[Check] = field(default_factory=list)
    caller_arn: str = ""
    account: str = ""
    region: str = ""
    instance_role_arn: str = ""  # the launch template's, for the iam:PassRole simulation

    def add(self, *args: Any, **kwargs: Any) -> Check:
        check = Check(*args, **kwargs)
        self.checks.append(check)
        return check


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
    doc = _Doctor(gw, tables, app, role, http_timeout)
    if await _credentials(doc):
        await _tables(doc)
        if app:
            await _app(doc, app)
        await _permissions(doc)
    return DoctorReport(
        checks=tuple(doc.checks),
        app=app or "",
        role=role,
        caller_arn=doc.caller_arn,
        account=doc.account,
        region=doc.region,
    )


async def _credentials(doc: _Doctor) -> bool:
    """Credentials, caller identity, region and clock skew: all from one STS call."""
    try:
        sts = await doc.gw.client("sts")
        doc.region = str(sts.meta.region_name or "")
        ident = await doc.gw.call("sts", "get_caller_identity")
    except CredentialsError as exc:
        doc.add("credentials", Verdict.FAIL, str(exc), _CREDENTIALS_FIX, aws=True)
        _skip_rest(doc, "no working credentials")
        return False
    except AwsError as exc:
        if exc.code == "NoRegion":
            doc.add("region", Verdict.FAIL, str(exc), _REGION_FIX, aws=True)
        else:
            doc.add("credentials", Verdict.FAIL, str(exc), _CREDENTIALS_FIX, aws=True)
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


async def _tables(doc: _Doctor) -> None:
    """Each ledger table exists, is ACTIVE and has the keys (and index) freshfleet expects."""
    for spec in table_specs(doc.tables):
        name = spec["TableName"]
        check = f"table {name}"
        try:
            table = (await doc.gw.call("dynamodb", "describe_table", TableName=name))["Table"]
        except AccessDenied as exc:
            doc.add(check, Verdict.FAIL, str(exc), _policy_fix(doc.role), aws=True)
            continue
        except AwsError as exc:
            if exc.code == "ResourceNotFoundException":
                doc.add(check, Verdict.FAIL, "missing", "run `freshfleet setup`")
            else:
                doc.add(check, Verdict.FAIL, str(exc), aws=True)
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


async def _app(doc: _Doctor, app: str) -> None:
    """The app's launch template (IMDSv2, instance profile), listener and server groups."""
    await _launch_template(doc, app)
    try:
        point: TrafficPoint | None = await find_traffic_point(doc.gw, app)
    except RolloutInputError:
        point = None
    except AwsError as exc:
        doc.add("listener", Verdict.FAIL, str(exc), aws=True)
        return
    if point is None:
        doc.add(
            "listener",
            Verdict.FAIL,
            f"no listener or listener rule tagged freshfleet:app={app}",
            f"run `freshfleet init {app}` (or tag the app's listener freshfleet:app={app})",
        )
        return
    what = f"rule {point.rule_arn}" if point.rule_arn else f"listener {point.listener_arn}"
    doc.add("listener", Verdict.OK, what)
    try:
        groups = await app_groups(doc.gw, app)
        weights = await read_weights(doc.gw, point)
    except AwsError as exc:
        doc.add("server groups", Verdict.FAIL, str(exc), aws=True)
        return
    serving = serving_group(groups, weights)
    first_deploy = f"deploy a release: `freshfleet deploy {app} VERSION --capacity 2`"
    if not groups:
        doc.add("server groups", Verdict.WARN, "none yet (never deployed)", first_deploy)
    else:
        names = ", ".join(f"{g.name} ({g.release or '?'}, desired {g.desired})" for g in groups)
        doc.add("server groups", Verdict.OK, names)
    if serving is None:
        doc.add("target group", Verdict.WARN, "the listener forwards to no group yet", first_deploy)
        return
    await _target_group(doc, serving.target_group_arn)
    await _serving_release(doc, app, serving.release, point)


async def _launch_template(doc: _Doctor, app: str) -> None:
    name = launch_template_name(app)
    init_fix = f"run `freshfleet init {app} --image-id AMI --instance-profile NAME`"
    try:
        got = await doc.gw.call(
            "ec2",
            "describe_launch_template_versions",
            LaunchTemplateName=name,
            Versions=["$Default"],
        )
    except AwsError as exc:
        if "NotFound" in exc.code:
            doc.add("launch template", Verdict.FAIL, f"{name} missing", init_fix)
            doc.add("IMDSv2", Verdict.SKIPPED, "no launch template")
            doc.add("instance profile", Verdict.SKIPPED, "no launch template")
        else:
            doc.add("launch template", Verdict.FAIL, str(exc), aws=True)
        return
    versions = got.get("LaunchTemplateVersions", [])
    if not versions:
        doc.add("launch template", Verdict.FAIL, f"{name} has no default version", init_fix)
        return
    version = versions[0]
    data = version.get("LaunchTemplateData", {})
    template_id = str(version.get("LaunchTemplateId", ""))
    what = f"{name} ({template_id}, default version {version.get('VersionNumber', '?')})"
    described = await doc.gw.call(
        "ec2", "describe_launch_templates", LaunchTemplateIds=[template_id]
    )
    tags = {
        t["Key"]: t.get("Value", "")
        for lt in described.get("LaunchTemplates", [])
        for t in lt.get("Tags", [])
    }
    if tags.get(TAG_APP) != app:
        doc.add(
            "launch template",
            Verdict.WARN,
            f"{what} is not tagged {TAG_APP}={app}: the deployer policy lets freshfleet add "
            "versions only to tagged launch templates",
            f"aws ec2 create-tags --resources {template_id} --tags Key={TAG_APP},Value={app}",
        )
    else:
        doc.add("launch template", Verdict.OK, what)
    metadata = data.get("MetadataOptions", {})
    tokens = metadata.get("HttpTokens", "optional")
    hops = int(metadata.get("HttpPutResponseHopLimit", 1))
    imds_fix = (
        f"aws ec2 create-launch-template-version --launch-template-name {name} "
        "--source-version '$Default' --launch-template-data "
        '\'{"MetadataOptions":{"HttpTokens":"required","HttpPutResponseHopLimit":2}}\' '
        "and make it the default (aws ec2 modify-launch-template --default-version N)"
    )
    if tokens != "required":
        doc.add("IMDSv2", Verdict.FAIL, f"HttpTokens={tokens}: IMDSv1 is allowed", imds_fix)
    elif hops < 2:
        doc.add(
            "IMDSv2",
            Verdict.WARN,
            f"required, but hop limit {hops}: containers cannot reach the metadata",
            imds_fix,
        )
    else:
        doc.add("IMDSv2", Verdict.OK, f"required, hop limit {hops}")
    await _instance_profile(doc, app, data.get("IamInstanceProfile", {}))


async def _instance_profile(doc: _Doctor, app: str, ref: dict[str, str]) -> None:
    profile = ref.get("Name") or ref.get("Arn", "").rpartition("/")[2]
    if not profile:
        doc.add(
            "instance profile",
            Verdict.WARN,
            "none: instances get no AWS credentials (no s3:// releases, no SSM secrets, "
            "no boot phases in the instances table)",
            f"create a role from iam/instance-role.json and pass `--instance-profile NAME` "
            f"to `freshfleet init {app}`",
        )
        return
    try:
        got = await doc.gw.call("iam", "get_instance_profile", InstanceProfileName=profile)
    except AccessDenied as exc:
        doc.add("instance profile", Verdict.UNAVAILABLE, f"{profile}: cannot read it ({exc})")
        return
    except AwsError as exc:
        if exc.code == "NoSuchEntity":
            doc.add(
                "instance profile",
                Verdict.FAIL,
                f"{profile} does not exist",
                f"aws iam create-instance-profile --instance-profile-name {profile} and add "
                "a role made from iam/instance-role.json",
            )
        else:
            doc.add("instance profile", Verdict.FAIL, str(exc), aws=True)
        return
    found = got.get("InstanceProfile", {}).get("Roles", [])
    roles = [r["RoleName"] for r in found]
    doc.instance_role_arn = str(found[0].get("Arn", "")) if found else ""
    if not roles:
        doc.add(
            "instance profile",
            Verdict.FAIL,
            f"{profile} has no role",
            f"aws iam add-role-to-instance-profile --instance-profile-name {profile} "
            "--role-name ROLE (a role made from iam/instance-role.json)",
        )
        return
    doc.add("instance profile", Verdict.OK, f"{profile} (role {', '.join(roles)})")


async def _target_group(doc: _Doctor, arn: str) -> None:
    try:
        got = await doc.gw.call("elbv2", "describe_target_health", TargetGroupArn=arn)
    except AwsError as exc:
        doc.add("target group", Verdict.FAIL, str(exc), aws=exc.code != "TargetGroupNotFound")
        return
    states = [
        d.get("TargetHealth", {}).get("State", "") for d in got.get("TargetHealthDescriptions", [])
    ]
    healthy = states.count("healthy")
    name = arn.rpartition(":targetgroup/")[2].partition("/")[0] or arn
    if healthy == 0:
        doc.add(
            "target group",
            Verdict.FAIL,
            f"{name}: 0 of {len(states)} targets healthy",
            "look at the instances' boot (`freshfleet logs INSTANCE`) or roll back",
        )
    else:
        doc.add("target group", Verdict.OK, f"{name}: {healthy} of {len(states)} targets healthy")


async def _serving_release(doc: _Doctor, app: str, version: str, point: TrafficPoint) -> None:
    """The serving release's tarball URL answers, and so does the app behind its listener."""
    try:
        release = await get_release(doc.gw, doc.tables, app, version) if version else None
    except AwsError as exc:
        doc.add("release", Verdict.FAIL, str(exc), aws=True)
        return
    if release is None:
        doc.add(
            "release",
            Verdict.FAIL,
            f"the serving group's release {version or '(untagged)'} is not in "
            f"{doc.tables.releases}",
            f"add it: `freshfleet release add {app} {version or 'VERSION'} "
            "--url URL --sha256 HASH`",
        )
        return
    doc.add("release", Verdict.OK, f"{version} from {release.url}")
    doc.checks.append(await _release_url(doc, release.url))
    url = await _app_url(doc, point)
    if url:
        doc.checks.append(
            await http_check("app answers", url + release.health_path, doc.http_timeout)
        )


async def _release_url(doc: _Doctor, url: str) -> Check:
    if url.startswith("s3://"):
        bucket, _, key = url.removeprefix("s3://").partition("/")
        try:
            await doc.gw.call("s3", "head_object", Bucket=bucket, Key=key)
        except AwsError as exc:
            return Check(
                "release URL",
                Verdict.FAIL,
                f"{url}: {exc}",
                "upload it again with `freshfleet release add APP VERSION --file TARBALL`",
            )
        return Check("release URL", Verdict.OK, f"{url} exists")
    return await http_check("release URL", url, doc.http_timeout)


async def _app_url(doc: _Doctor, point: TrafficPoint) -> str:
    got = await doc.gw.call(
        "elbv2", "describe_load_balancers", LoadBalancerArns=[point.load_balancer_arn]
    )
    listeners = await doc.gw.call("elbv2", "describe_listeners", ListenerArns=[point.listener_arn])
    lbs, lis = got.get("LoadBalancers", []), listeners.get("Listeners", [])
    if not lbs or not lis:
        return ""
    scheme = "https" if lis[0].get("Protocol") in ("HTTPS", "TLS") else "http"
    return f"{scheme}://{lbs[0].get('DNSName', '')}:{lis[0].get('Port', 80)}"


async def http_check(name: str, url: str, within: float) -> Check:
    """HEAD the URL (GET when HEAD is refused); green on any 2xx or 3xx within `within` s."""
    started = time.monotonic()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=within)) as http:
            async with http.head(url, allow_redirects=False) as resp:
                status = resp.status
            if status in (403, 405, 501):  # some servers (and presigned URLs) refuse HEAD
                async with http.get(url, allow_redirects=False) as resp:
                    status = resp.status
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
        return Check(name, Verdict.FAIL, f"{url}: {reason}", _url_fix(name))
    took = time.monotonic() - started
    if status >= 400:
        return Check(name, Verdict.FAIL, f"{url}: HTTP {status}", _url_fix(name))
    return Check(name, Verdict.OK, f"{url}: HTTP {status} in {took * 1000:.0f} ms")


def _url_fix(name: str) -> str:
    if name == "release URL":
        return "the next deploy cannot fetch this release: fix the URL or add the release again"
    return "check the security groups and the instances' health (`freshfleet status APP`)"


async def _permissions(doc: _Doctor) -> None:
    """Ask IAM's policy simulator whether the caller has the chosen role's actions."""
    name = f"permissions ({doc.role})"
    try:
        actions = concrete_actions(policy_actions(doc.role))
    except OSError:  # an installed wheel carries no iam/ directory
        doc.add(name, Verdict.UNAVAILABLE, f"iam/{doc.role}.json is not installed here")
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
            _policy_fix(doc.role),
            aws=True,
        )
    else:
        doc.add(name, Verdict.OK, f"all {len(actions)} actions allowed")


def _policy_fix(role: str) -> str:
    return f"attach the policy in iam/{role}.json to the caller (see docs/REAL_AWS.md)"


def _skip_rest(doc: _Doctor, why: str) -> None:
    for name in ("tables", "app", f"permissions ({doc.role})"):
        if name == "app" and not doc.app:
            continue
        doc.add(name, Verdict.SKIPPED, why)


_CREDENTIALS_FIX = (
    "sign in (e.g. `aws sso login --profile NAME`), then pass --profile NAME or set AWS_PROFILE"
)
_REGION_FIX = "pass --region REGION or set AWS_REGION (or `region` in the profile)"
