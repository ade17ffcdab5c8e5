"""The fetch and verify phases against a real local HTTP server."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import pytest

from bootscript.agent.fetch import FetchError, VerifyError, fetch, redirect_refusal, verify
from localaws.testing import other_account_client


def test_a_release_is_downloaded_and_its_checksum_verified(
    release_server: Any, tmp_path: Path
) -> None:
    url, sha = release_server.publish("v1")
    size = fetch(url, tmp_path / "release.tar", backoff=0)
    assert size == len(release_server.files["v1.tar.gz"])
    assert verify(tmp_path / "release.tar", sha) == sha


def test_a_flaky_server_is_retried_until_it_answers(release_server: Any, tmp_path: Path) -> None:
    url, _ = release_server.publish("v1")
    release_server.fail_first["v1.tar.gz"] = 2
    lines: list[str] = []
    fetch(url, tmp_path / "release.tar", attempts=3, backoff=0, log=lines.append)
    assert release_server.requests.count("v1.tar.gz") == 3
    assert any("attempt 1/3 failed: HTTP 503" in line for line in lines)


def test_a_missing_release_fails_at_once_without_retrying(
    release_server: Any, tmp_path: Path
) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch(release_server.url("v9.tar.gz"), tmp_path / "release.tar", attempts=4, backoff=0)
    assert release_server.requests == ["v9.tar.gz"]
    assert not (tmp_path / "release.tar").exists()


def test_an_unreachable_server_fails_after_every_attempt(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="after 2 attempts"):
        fetch("http://127.0.0.1:9/v1.tar.gz", tmp_path / "r.tar", attempts=2, backoff=0)


def test_an_oversize_release_is_refused(release_server: Any, tmp_path: Path) -> None:
    url, _ = release_server.publish("v1")
    with pytest.raises(FetchError, match="limit"):
        fetch(url, tmp_path / "release.tar", limit=100, backoff=0)
    assert not (tmp_path / "release.tar").exists()


def test_only_https_http_and_s3_are_fetched(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="not supported"):
        fetch("file:///etc/passwd", tmp_path / "r.tar")


def test_a_tampered_download_fails_verification(tmp_path: Path) -> None:
    path = tmp_path / "release.tar"
    path.write_bytes(b"not the release")
    expected = hashlib.sha256(b"the release").hexdigest()
    with pytest.raises(VerifyError, match=f"expected {expected}, got "):
        verify(path, expected)


def test_an_s3_release_is_fetched_through_the_configured_endpoint(
    moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    from bootscript.agent import aws
    from bootscript.releases import build_release_tarball

    s3 = aws.client("s3", "us-east-1", moto_url)
    bucket = f"releases-{tmp_path.name.lower().replace('_', '-')[-40:]}"
    s3.create_bucket(Bucket=bucket)
    data, sha = build_release_tarball("v2")
    s3.put_object(Bucket=bucket, Key="demo-web/v2.tar.gz", Body=data)
    size = fetch(
        f"s3://{bucket}/demo-web/v2.tar.gz",
        tmp_path / "release.tar",
        s3_client=lambda: s3,
        bucket_owner="123456789012",
    )
    assert size == len(data)
    assert verify(tmp_path / "release.tar", sha) == sha
    with pytest.raises(FetchError, match="NoSuchKey"):
        fetch(
            f"s3://{bucket}/demo-web/v9.tar.gz",
            tmp_path / "r.tar",
            s3_client=lambda: s3,
            bucket_owner="123456789012",
        )


def test_an_s3_release_in_a_bucket_of_another_account_is_never_fetched(
    localaws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another account created the bucket (its name is predictable) and put a release of
    its own there: GetObject with ExpectedBucketOwner answers 403 and the fetch fails at once."""
    from bootscript.agent import aws
    from bootscript.releases import build_release_tarball

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    bucket = f"freshfleet-releases-squat-{uuid.uuid4().hex[:12]}"
    squatter = other_account_client("s3", localaws.url)
    squatter.create_bucket(Bucket=bucket)
    data, _ = build_release_tarball("v2")
    squatter.put_object(Bucket=bucket, Key="releases/demo-web/v2.tar.gz", Body=data)
    s3 = aws.client("s3", "us-east-1", localaws.url)
    url = f"s3://{bucket}/releases/demo-web/v2.tar.gz"
    tries: list[str] = []
    with pytest.raises(FetchError, match=r"AccessDenied.*owned by account 123456789012"):
        fetch(
            url,
            tmp_path / "r.tar",
            s3_client=lambda: s3,
            bucket_owner="123456789012",
            log=tries.append,
        )
    assert tries == []  # refused at once, never retried
    assert not (tmp_path / "r.tar").exists()
    with pytest.raises(FetchError, match="account is unknown"):
        fetch(url, tmp_path / "r.tar", s3_client=lambda: s3)  # no owner to check: refused


def test_a_redirect_to_another_host_is_refused_and_one_on_the_same_host_followed(
    release_server: Any, tmp_path: Path
) -> None:
    url, _ = release_server.publish("v1")
    release_server.redirects["moved.tar.gz"] = url  # same host and port: followed
    fetch(release_server.url("moved.tar.gz"), tmp_path / "r.tar", backoff=0)
    elsewhere = f"http://localhost:{release_server.port}/v1.tar.gz"  # another host name
    release_server.redirects["away.tar.gz"] = elsewhere
    with pytest.raises(FetchError, match="redirect to another host refused"):
        fetch(release_server.url("away.tar.gz"), tmp_path / "r.tar", attempts=3, backoff=0)
    assert release_server.requests.count("away.tar.gz") == 1  # refused at once
    assert not (tmp_path / "r.tar").exists()


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        ("https://a.example/r", "http://a.example/r", "from https:// to http://"),
        ("https://a.example/r", "https://b.example/r", "another host"),
        ("https://a.example/r", "https://a.example:8443/r", "another host"),
        ("http://a.example/r", "https://a.example/s", ""),  # an upgrade on the same host
        ("https://a.example/r", "https://a.example/s", ""),
    ],
)
def test_redirects_never_leave_https_or_the_host(old: str, new: str, why: str) -> None:
    refusal = redirect_refusal(old, new)
    assert (why in refusal) if why else refusal == ""


def test_a_server_that_never_finishes_is_cut_off_at_the_fetch_deadline(
    release_server: Any, tmp_path: Path
) -> None:
    """Each byte arrives within the read timeout, so only an overall deadline ends it."""
    release_server.drip.add("slow.tar.gz")
    with pytest.raises(FetchError, match="fetch deadline"):
        fetch(
            release_server.url("slow.tar.gz"),
            tmp_path / "r.tar",
            timeout=5,
            attempts=3,
            backoff=0,
            deadline=0.5,
        )
    assert release_server.requests.count("slow.tar.gz") == 1  # the deadline is for all
    assert not (tmp_path / "r.tar").exists()


def test_credentials_in_a_release_url_never_reach_a_message(tmp_path: Path) -> None:
    with pytest.raises(FetchError) as caught:
        fetch("http://user:s3cret@127.0.0.1:9/v1.tar.gz", tmp_path / "r.tar", attempts=1)
    assert "s3cret" not in str(caught.value)
    assert "***@127.0.0.1:9" in str(caught.value)
