"""`freshfleet doctor --app APP`: the app's launch template, traffic point, groups and release.

Each check is found the way the rollout engine finds it (by name and by the
`freshfleet:app` tag), so a green doctor means `deploy` finds the same things.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import aiohttp

from rollout.aws.gateway import AccessDenied, AwsError
from rollout.errors import RolloutInputError
from rollout.fleet.groups import app_groups, serving_group
from rollout.fleet.traffic import TrafficPoint, find_traffic_point, read_weights
from rollout.ledger.releases import ReleaseError, bucket_call, get_release
from rollout.model import TAG_APP, TAG_INSTANCE_SUBNETS, Release, ServerGroup
from rollout.naming import launch_template_name
from rollout.readiness.egress import egress_fix, subnet_egress
from rollout.readiness.report import Check, Diagnosis, Verdict
from rollout.userdata import redact_url

T = TypeVar("T")


async def check_app(doc: Diagnosis, app: str) -> None:
    """The app's launch template (IMDSv2, instance profile), listener and server groups."""
    template = await _launch_template(doc, app)
    point = await _read(
        doc,
        "listener",
        _traffic_point(doc, app),
        f"no listener or listener rule tagged freshfleet:app={app}",
        f"run `freshfleet init {app}` (or tag the app's listener freshfleet:app={app})",
    )
    if point is None:
        return
    what = f"rule {point.rule_arn}" if point.rule_arn else f"listener {point.listener_arn}"
    doc.add("listener", Verdict.OK, what)
    try:
        groups = await app_groups(doc.gw, app)
        weights = await read_weights(doc.gw, point)
    except AwsError as exc:
        doc.aws_failure("server groups", exc)
        return
    serving = serving_group(groups, weights)
    await _instance_subnets(doc, app, template, point, serving)
    first_deploy = f"deploy a release: `freshfleet deploy {app} VERSION --capacity 2`"
    if not groups:
        doc.add("server groups", Verdict.WARN, "none yet (never deployed)", first_deploy)
    else:
        names = ", ".join(
            f"{g.name} ({g.release or '?'}, desired {g.capacity.desired})" for g in groups
        )
        doc.add("server groups", Verdict.OK, names)
    if serving is None:
        doc.add("target group", Verdict.WARN, "the listener forwards to no group yet", first_deploy)
        return
    await _target_group(doc, serving.target_group_arn)
    await _serving_release(doc, app, serving.release, point)


async def _read(
    doc: Diagnosis, name: str, read: Awaitable[T | None], missing: str, fix: str
) -> T | None:
    """What `read` found for check `name`, or None once that check is recorded red: as a
    failure of AWS when `read` raises AwsError, with `missing` and `fix` when it finds
    nothing. What was found, the caller judges and records."""
    try:
        found = await read
    except AwsError as exc:
        doc.aws_failure(name, exc)
        return None
    if found is None:
        doc.add(name, Verdict.FAIL, missing, fix)
    return found


async def _traffic_point(doc: Diagnosis, app: str) -> TrafficPoint | None:
    """The app's listener (or rule), or None when it has none."""
    try:
        return await find_traffic_point(doc.gw, app)
    except RolloutInputError:
        return None


async def _launch_template(doc: Diagnosis, app: str) -> dict[str, Any]:
    """Check the app's launch template; returns its default version's data and its tags
    (under "Tags"), or {} without one."""
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
            doc.aws_failure("launch template", exc)
        return {}
    versions = got.get("LaunchTemplateVersions", [])
    if not versions:
        doc.add("launch template", Verdict.FAIL, f"{name} has no default version", init_fix)
        return {}
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
        '\'{"MetadataOptions":{"HttpTokens":"required","HttpPutResponseHopLimit":1}}\' '
        "and make it the default (aws ec2 modify-launch-template --default-version N)"
    )
    if tokens != "required":
        doc.add("IMDSv2", Verdict.FAIL, f"HttpTokens={tokens}: IMDSv1 is allowed", imds_fix)
    else:  # each rollout's version sets hop limit 1 (rollout.deploy.launch.METADATA_OPTIONS)
        later = "" if hops == 1 else " (each rollout's version sets 1)"
        doc.add("IMDSv2", Verdict.OK, f"required, hop limit {hops}{later}")
    await _instance_profile(doc, app, data.get("IamInstanceProfile", {}))
    return {**data, "Tags": tags}


async def _instance_subnets(
    doc: Diagnosis,
    app: str,
    template: dict[str, Any],
    point: TrafficPoint,
    serving: ServerGroup | None,
) -> None:
    """The subnets the next group launches into reach S3 and DynamoDB (route or endpoint)."""
    tagged = [
        s for s in str(template.get("Tags", {}).get(TAG_INSTANCE_SUBNETS, "")).split(",") if s
    ]
    if serving is not None and serving.subnets:
        subnets, whose = serving.subnets.split(","), f"{serving.name}'s"
    elif tagged:
        subnets, whose = tagged, "the app's instance"
    else:
        subnets, whose = list(point.subnets), "the load balancer's"
    if not subnets:
        doc.add("instance subnets", Verdict.SKIPPED, "no subnets to check")
        return
    nics = template.get("NetworkInterfaces") or [{}]
    public = nics[0].get("AssociatePublicIpAddress")
    try:
        found = await subnet_egress(doc.gw, subnets, public_ip=public)
    except AwsError as exc:
        doc.aws_failure("instance subnets", exc)
        return
    bad = [e for e in found if e.missing]
    if bad:
        region = doc.region or await doc.gw.region()
        detail = "; ".join(
            f"{e.subnet_id} ({whose}) reaches no {' and no '.join(e.missing)}: no NAT or "
            "internet route with a public address, no VPC endpoint"
            for e in bad
        )
        fix = egress_fix(bad[0], point.vpc_id, region)
        if not tagged and serving is None:
            fix += f"; or put instances in private subnets with a NAT: `freshfleet init {app} "
            fix += "--instance-subnet ID`"
        doc.add("instance subnets", Verdict.FAIL, detail, fix)
        return
    doc.add(
        "instance subnets",
        Verdict.OK,
        "; ".join(
            f"{e.subnet_id}: " + ", ".join(f"{k} via {v}" for k, v in e.reaches.items())
            for e in found
        ),
    )


async def _instance_profile(doc: Diagnosis, app: str, ref: dict[str, str]) -> None:
    profile = ref.get("Name") or ref.get("Arn", "").rpartition("/")[2]
    if not profile and doc.gw.backend.local:
        # localaws hands its instances its own endpoint and credentials.
        doc.add(
            "instance profile",
            Verdict.OK,
            "none needed on the local sandbox: its instances reach its S3 (s3:// releases) "
            "and DynamoDB (boot phases) with the sandbox's credentials",
        )
        return
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
            doc.aws_failure("instance profile", exc)
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


async def _target_group(doc: Diagnosis, arn: str) -> None:
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


async def _serving_release(doc: Diagnosis, app: str, version: str, point: TrafficPoint) -> None:
    """The serving release's tarball URL answers, and so does the app behind its listener."""
    release = await _read(
        doc,
        "release",
        _release(doc, app, version),
        f"the serving group's release {version or '(untagged)'} is not in {doc.tables.releases}",
        f"add it: `freshfleet release add {app} {version or 'VERSION'} --url URL --sha256 HASH`",
    )
    if release is None:
        return
    doc.add("release", Verdict.OK, f"{version} from {redact_url(release.url)}")
    doc.checks.append(await _release_url(doc, release.url))
    url = await _app_url(doc, point)
    if url:
        doc.checks.append(
            await http_check("app answers", url + release.health_path, doc.http_timeout)
        )


async def _release(doc: Diagnosis, app: str, version: str) -> Release | None:
    """The release `version` of the app, or None when the ledger lacks it or the serving
    group names none (untagged)."""
    return await get_release(doc.gw, doc.tables, app, version) if version else None


async def _release_url(doc: Diagnosis, url: str) -> Check:
    if url.startswith("s3://"):
        bucket, _, key = url.removeprefix("s3://").partition("/")
        try:
            await bucket_call(doc.gw, "head_object", bucket, Key=key)
        except (AwsError, ReleaseError) as exc:
            return Check(
                "release URL",
                Verdict.FAIL,
                f"{url}: {exc}",
                "upload it again with `freshfleet release add APP VERSION --file TARBALL`",
            )
        return Check("release URL", Verdict.OK, f"{url} exists")
    return await http_check("release URL", url, doc.http_timeout)


async def _app_url(doc: Diagnosis, point: TrafficPoint) -> str:
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
    """HEAD the URL (GET when HEAD is refused); green on any 2xx or 3xx within `within` s.
    The URL is shown without credentials."""
    started = time.monotonic()
    shown = redact_url(url)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=within)) as http:
            async with http.head(url, allow_redirects=False) as resp:
                status = resp.status
            if status in (403, 405, 501):  # some servers (and presigned URLs) refuse HEAD
                async with http.get(url, allow_redirects=False) as resp:
                    status = resp.status
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
        return Check(name, Verdict.FAIL, f"{shown}: {reason}", _url_fix(name))
    took = time.monotonic() - started
    if status >= 400:
        return Check(name, Verdict.FAIL, f"{shown}: HTTP {status}", _url_fix(name))
    return Check(name, Verdict.OK, f"{shown}: HTTP {status} in {took * 1000:.0f} ms")


def _url_fix(name: str) -> str:
    if name == "release URL":
        return "the next deploy cannot fetch this release: fix the URL or add the release again"
    return "check the security groups and the instances' health (`freshfleet status APP`)"
