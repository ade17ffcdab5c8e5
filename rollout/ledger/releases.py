"""The releases table: what can be deployed, each version with its URL and sha256.

A release is immutable once added: adding a version that exists is refused, so a deploy
of `v2` always fetches the bytes that were checked when `v2` was recorded.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import re
import socket
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import aiohttp

from rollout.aws.gateway import AwsError, Gateway, in_thread
from rollout.config import Tables
from rollout.ledger.codec import ItemValue, Values, from_item, to_item
from rollout.ledger.tables import app_items
from rollout.ledger.timestamps import iso, parse_time
from rollout.model import Release
from rollout.userdata import UserDataError, redact_url, validate_release

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class ReleaseError(ValueError):
    """A release cannot be recorded as asked (bad value, exists already); says why."""


def normalize_sha256(value: str) -> str:
    """The checksum as 64 lower-case hex digits; ReleaseError when it is not one."""
    digest = (value or "").strip().lower()
    if not _SHA256.match(digest):
        raise ReleaseError(
            f"sha256 must be 64 hexadecimal digits, got {value!r} ({len(value or '')} characters)"
        )
    return digest


def sha256_of_file(path: Path) -> str:
    """The file's sha256 as hex (reads in 1 MiB chunks; call through `in_thread`)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def who_am_i() -> str:
    """`user@host`, recorded as created_by."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def check_release(release: Release, *, allow_insecure_url: bool = False) -> Release:
    """The release with its sha256 normalized, or ReleaseError naming the bad value.

    The same checks the user data applies, so a release that is recorded can be deployed.
    """
    fixed = replace(release, sha256=normalize_sha256(release.sha256))
    try:
        validate_release(fixed, allow_insecure_url=allow_insecure_url)
    except UserDataError as exc:
        raise ReleaseError(str(exc)) from exc
    return fixed


def release_item(release: Release) -> dict[str, ItemValue]:
    """The releases-table item of a release (plain values; the codec drops None)."""
    return {
        "app": release.app,
        "version": release.version,
        "url": release.url,
        "sha256": release.sha256,
        "port": int(release.port),
        "health_path": release.health_path,
        "created_at": iso(release.created_at or datetime.now(UTC)),
        "created_by": release.created_by,
        "notes": release.notes,
        # localaws's failure injection, stored as the release was given it
        "simulate": cast("dict[str, ItemValue]", dict(release.simulate))
        if release.simulate
        else None,
        "health_timeout_seconds": release.health_timeout_seconds,
    }


def release_of(values: Mapping[str, ItemValue]) -> Release:
    """A Release from a releases-table item (plain values)."""
    v = Values(values)
    simulate = values.get("simulate")
    return Release(
        app=str(values["app"]),
        version=str(values["version"]),
        url=str(values.get("url", "")),
        sha256=str(values.get("sha256", "")),
        port=v.number("port", 8080),
        health_path=str(values.get("health_path", "/health")),
        created_at=parse_time(values.get("created_at")),
        created_by=str(values.get("created_by", "")),
        notes=str(values.get("notes", "")),
        simulate=dict(simulate) if isinstance(simulate, dict) else None,
        health_timeout_seconds=v.seconds("health_timeout_seconds"),
    )


async def add_release(
    gateway: Gateway, tables: Tables, release: Release, *, allow_insecure_url: bool = False
) -> Release:
    """Validate and record a new release; returns it as stored.

    Raises ReleaseError for a bad value or a version that already exists (nothing is
    written then), AwsError for AWS failures.
    """
    checked = check_release(release, allow_insecure_url=allow_insecure_url)
    stored = replace(
        checked,
        created_at=checked.created_at or datetime.now(UTC),
        created_by=checked.created_by or who_am_i(),
    )
    try:
        await gateway.call(
            "dynamodb",
            "put_item",
            TableName=tables.releases,
            Item=to_item(release_item(stored)),
            ConditionExpression="attribute_not_exists(version)",
        )
    except AwsError as exc:
        if exc.code == "ConditionalCheckFailedException":
            raise ReleaseError(
                f"release {release.version} of {release.app} exists already: "
                "releases are immutable, add a new version"
            ) from exc
        raise
    return stored


async def check_reachable(gateway: Gateway, url: str, *, within: float = 10.0) -> None:
    """ReleaseError unless the release URL answers: S3 HeadObject, or an HTTP HEAD.

    Only checks that something is there (a 2xx/3xx answer); the sha256 is checked by
    the boot agent when it fetches the bytes.
    """
    if url.startswith("s3://"):
        bucket, _, key = url.removeprefix("s3://").partition("/")
        try:
            await bucket_call(gateway, "head_object", bucket, Key=key)
        except AwsError as exc:
            raise ReleaseError(
                f"release URL {redact_url(url)} is not there ({exc.code or exc})"
            ) from exc
        return
    timeout = aiohttp.ClientTimeout(total=within)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http:
            async with http.head(url, allow_redirects=True) as response:
                status = response.status
            if status in (403, 405, 501):  # some servers refuse HEAD: ask for one byte
                async with http.get(url, headers={"Range": "bytes=0-0"}) as response:
                    status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ReleaseError(
            f"cannot reach release URL {redact_url(url)} ({exc.__class__.__name__}: {exc})"
        ) from exc
    if status >= 400:
        raise ReleaseError(f"release URL {redact_url(url)} answered HTTP {status}")


async def get_release(gateway: Gateway, tables: Tables, app: str, version: str) -> Release | None:
    """The release, or None when the app has no such version."""
    out = await gateway.call(
        "dynamodb",
        "get_item",
        TableName=tables.releases,
        Key=to_item({"app": app, "version": version}),
        ConsistentRead=True,
    )
    item = out.get("Item")
    return release_of(from_item(item)) if item else None


async def list_releases(gateway: Gateway, tables: Tables, app: str) -> list[Release]:
    """Every release of the app, oldest first (by created_at, then version)."""
    releases = [release_of(v) for v in await app_items(gateway, tables.releases, app)]
    epoch = datetime.fromtimestamp(0, UTC)
    return sorted(releases, key=lambda r: (r.created_at or epoch, r.version))


def default_bucket(account_id: str, region: str) -> str:
    """The bucket `release add --file` uses when none is named."""
    return f"freshfleet-releases-{account_id}-{region}".lower()


def tarball_url(bucket: str, app: str, version: str, path: Path) -> str:
    """Where `release add --file` puts a tarball: `s3://<bucket>/releases/<app>/<version>/<name>`."""
    if not _BUCKET.match(bucket):
        raise ReleaseError(f"bucket name {bucket!r} is not a valid S3 bucket name")
    return f"s3://{bucket}/releases/{app}/{version}/{path.name}"


_NOT_OURS = ("403", "AccessDenied")


async def bucket_call(gateway: Gateway, operation: str, bucket: str, **params: Any) -> Any:
    """One S3 call on a release bucket, with `ExpectedBucketOwner` the caller's account
    (STS): a bucket another account owns (one that took a predictable name first) is never
    read or written. ReleaseError says so when S3 answers 403; other failures are AwsError.
    """
    account = await gateway.account_id()
    try:
        return await gateway.call(
            "s3", operation, Bucket=bucket, ExpectedBucketOwner=account, **params
        )
    except AwsError as exc:
        if exc.code in _NOT_OURS:
            raise ReleaseError(
                f"S3 bucket {bucket} is refused: it is not owned by account {account} "
                f"(or this identity may not use it; S3 answered {operation} with "
                f"{exc.code} to ExpectedBucketOwner={account}). freshfleet uses a release "
                "bucket only when its own account owns it: pass --bucket with one of yours"
            ) from exc
        raise


async def upload_tarball(gateway: Gateway, path: Path, url: str, sha256: str) -> None:
    """Upload the tarball to its s3:// URL (a bucket of the caller's account only, see
    bucket_call); S3 checks the sha256 on arrival."""
    bucket, _, key = url.removeprefix("s3://").partition("/")
    body = await in_thread(path.read_bytes)
    await bucket_call(
        gateway,
        "put_object",
        bucket,
        Key=key,
        Body=body,
        ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256)).decode(),
        Metadata={"sha256": sha256},
    )


async def ensure_bucket(gateway: Gateway, bucket: str, region: str) -> None:
    """Create the bucket unless it exists and is ours; ReleaseError when another account
    owns it (its name is predictable: anyone may create it first)."""
    try:
        await bucket_call(gateway, "head_bucket", bucket)
        return
    except AwsError as exc:
        if exc.code not in ("404", "NoSuchBucket", "NotFound"):
            raise
    params: dict[str, Any] = {"Bucket": bucket}
    if region and region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:  # CreateBucket takes no ExpectedBucketOwner: a name taken meanwhile is refused
        await gateway.call("s3", "create_bucket", **params)
    except AwsError as exc:
        if exc.code == "BucketAlreadyExists":
            raise ReleaseError(
                f"S3 bucket {bucket} belongs to another account: pass --bucket with one of yours"
            ) from exc
        raise
