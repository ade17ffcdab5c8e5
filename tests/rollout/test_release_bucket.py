"""The release bucket's name is predictable (`freshfleet-releases-<account>-<region>`), so
another account may create it first: every S3 call on a release bucket names the caller's
account as ExpectedBucketOwner, and a bucket of another account is refused, never used."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from localaws.testing import other_account_client

ACCOUNT = "123456789012"  # the caller's account on localaws (STS)
SHA = "ab" * 32


def _squatted(fleet: Any, bucket: str) -> Any:
    squatter = other_account_client("s3", fleet.url)
    squatter.create_bucket(Bucket=bucket)
    return squatter


def _recorded(fleet: Any, version: str) -> bool:
    got = fleet.aws("dynamodb").get_item(
        TableName=fleet.config.tables.releases,
        Key={"app": {"S": "demo-web"}, "version": {"S": version}},
        ConsistentRead=True,
    )
    return "Item" in got


@pytest.mark.parametrize("named", [False, True], ids=["default-bucket", "bucket-flag"])
def test_release_add_file_refuses_a_bucket_another_account_created_first(
    fleet: Any, tmp_path: Path, named: bool
) -> None:
    bucket = (
        f"squat-{uuid.uuid4().hex[:12]}" if named else f"freshfleet-releases-{ACCOUNT}-us-east-1"
    )
    squatter = _squatted(fleet, bucket)
    tarball = tmp_path / "web-v9.tar.gz"
    tarball.write_bytes(b"the release's bytes")
    flags = ["--bucket", bucket] if named else []
    ran = fleet.cli("release", "add", "demo-web", "v9", "--file", str(tarball), *flags)
    assert ran.code == 2, ran.out + ran.err
    said = " ".join(ran.err.split())
    assert f"S3 bucket {bucket} is refused: it is not owned by account {ACCOUNT}" in said
    assert squatter.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0  # nothing uploaded
    assert not _recorded(fleet, "v9")


def test_release_add_url_refuses_an_s3_url_in_a_bucket_of_another_account(fleet: Any) -> None:
    bucket = f"squat-{uuid.uuid4().hex[:12]}"
    squatter = _squatted(fleet, bucket)
    squatter.put_object(Bucket=bucket, Key="releases/demo-web/v9.tar.gz", Body=b"theirs")
    url = f"s3://{bucket}/releases/demo-web/v9.tar.gz"
    ran = fleet.cli("release", "add", "demo-web", "v9", "--url", url, "--sha256", SHA)
    assert ran.code == 2, ran.out + ran.err
    assert f"not owned by account {ACCOUNT}" in " ".join(ran.err.split())
    assert not _recorded(fleet, "v9")


def test_release_add_file_uses_the_default_bucket_of_its_own_account(
    fleet: Any, tmp_path: Path
) -> None:
    tarball = tmp_path / "web-v9.tar.gz"
    tarball.write_bytes(b"the release's bytes")
    ran = fleet.cli("release", "add", "demo-web", "v9", "--file", str(tarball))
    assert ran.code == 0, ran.out + ran.err
    bucket = f"freshfleet-releases-{ACCOUNT}-us-east-1"
    s3 = fleet.aws("s3")
    assert s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=ACCOUNT)
    assert _recorded(fleet, "v9")
