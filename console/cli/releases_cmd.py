"""`freshfleet releases APP` and `freshfleet release add APP VERSION ...`."""

from __future__ import annotations

import argparse
from pathlib import Path

from console.cli.app_command import app_command, ledger_session
from console.cli.common import Exit, UserError, async_command, config_of, out, print_json
from console.cli.output import full_records
from console.cli.render_releases import release_json, render_added, render_releases
from rollout.aws.gateway import in_thread
from rollout.ledger.releases import (
    ReleaseError,
    add_release,
    check_reachable,
    check_release,
    default_bucket,
    ensure_bucket,
    get_release,
    list_releases,
    sha256_of_file,
    tarball_url,
    upload_tarball,
)
from rollout.model import Release
from rollout.naming import valid_app_name


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    with app_command(sub, "releases", "list an app's releases", run_list, wide=True):
        pass

    r = sub.add_parser("release", help="record releases (release add APP VERSION ...)")
    actions = r.add_subparsers(dest="release_command", metavar="ACTION", required=True)
    add_help = "record a release: --url and --sha256, or --file to upload a tarball to S3"
    with app_command(
        actions,
        "add",
        add_help,
        run_add,
        description="Record a release. Releases are immutable: a version is added once.",
        insecure_url=True,
    ) as a:
        a.add_argument("version")
        source = a.add_mutually_exclusive_group(required=True)
        source.add_argument("--url", help="https:// or s3:// URL of the release tarball")
        source.add_argument("--file", metavar="TARBALL", help="upload this tarball to S3")
        a.add_argument("--sha256", help="the tarball's sha256 (required with --url)")
        a.add_argument(
            "--bucket", help="S3 bucket for --file (default: freshfleet-releases-ACCOUNT-REGION)"
        )
        a.add_argument("--port", type=int, default=8080, help="the app's port (default 8080)")
        a.add_argument(
            "--health-path", default="/health", help="health check path (default /health)"
        )
        a.add_argument(
            "--health-timeout",
            type=float,
            metavar="SECONDS",
            help="how long the boot agent waits for a 2xx (default: half the gate deadline)",
        )
        a.add_argument("--notes", default="", help="free text shown in listings")
        a.add_argument(
            "--no-check-url",
            action="store_true",
            help="record --url without checking that it answers (e.g. uploaded later)",
        )


@async_command
async def run_list(args: argparse.Namespace) -> int:
    async with ledger_session(args, "releases") as (gw, config):
        releases = await list_releases(gw, config.tables, args.app)
    if not releases:
        raise UserError(
            f"unknown app {args.app!r}: no releases recorded "
            f"(add one with `freshfleet release add {args.app} VERSION ...`)"
        )
    if args.json:
        print_json({"app": args.app, "releases": [release_json(r) for r in releases]})
    else:
        render_releases(out, args.app, releases, full=full_records(args))
    return Exit.OK


@async_command
async def run_add(args: argparse.Namespace) -> int:
    config = config_of(args)
    if not valid_app_name(args.app):
        raise UserError(f"app name {args.app!r}: lower-case letters, digits and '-', 1–32")
    if args.url and not args.sha256:
        raise UserError("--sha256 is required with --url (or use --file to compute it)")
    if args.bucket and not args.file:
        raise UserError("--bucket goes with --file")
    path = Path(args.file) if args.file else None
    if path is not None and not path.is_file():
        raise UserError(f"{path}: no such file")
    # Every value is checked before the first AWS call: bad input writes nothing.
    release = _release(args, args.url or "s3://bucket/release.tar.gz", args.sha256 or "0" * 64)
    async with ledger_session(args, "releases", config=config) as (gw, _):
        if path is not None:
            digest = await in_thread(sha256_of_file, path)
            if args.sha256 and args.sha256.strip().lower() != digest:
                raise UserError(f"--sha256 does not match {path} (its sha256 is {digest})")
            bucket = args.bucket or default_bucket(await gw.account_id(), await gw.region())
            try:
                url = tarball_url(bucket, args.app, args.version, path)
            except ReleaseError as exc:
                raise UserError(str(exc)) from exc
            release = _release(args, url, digest)
        if await get_release(gw, config.tables, args.app, args.version):
            raise UserError(
                f"release {args.version} of {args.app} exists already: "
                "releases are immutable, add a new version"
            )
        if path is None and not args.no_check_url:
            try:
                await check_reachable(gw, release.url)
            except ReleaseError as exc:
                raise UserError(f"{exc} (or pass --no-check-url)") from exc
        if path is not None:
            bucket = release.url.removeprefix("s3://").split("/")[0]
            try:
                if not args.bucket:
                    await ensure_bucket(gw, bucket, await gw.region())
                await upload_tarball(gw, path, release.url, release.sha256)
            except ReleaseError as exc:
                raise UserError(str(exc)) from exc
        try:
            stored = await add_release(
                gw, config.tables, release, allow_insecure_url=args.allow_insecure_url
            )
        except ReleaseError as exc:
            raise UserError(str(exc)) from exc
    if args.json:
        print_json(release_json(stored))
    else:
        render_added(out, stored)
    return Exit.OK


def _release(args: argparse.Namespace, url: str, sha256: str) -> Release:
    """The release the flags describe, validated; UserError naming the first bad value."""
    try:
        return check_release(
            Release(
                app=args.app,
                version=args.version,
                url=url,
                sha256=sha256,
                port=args.port,
                health_path=args.health_path,
                notes=args.notes,
                health_timeout_seconds=args.health_timeout,
            ),
            allow_insecure_url=args.allow_insecure_url,
        )
    except ReleaseError as exc:
        raise UserError(str(exc)) from exc
