"""The fetch and verify phases: download the release with timeouts and retries, check its sha256."""

from __future__ import annotations

import hashlib
import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

CHUNK = 64 * 1024


class FetchError(Exception):
    """The release could not be downloaded; the message is the reason shown on the console."""


class _Permanent(FetchError):
    """Retrying cannot help (404, 403, a bad URL, too large)."""


class _Deadline(_Permanent):
    """The whole fetch, every attempt together, outlasted its deadline."""


def shown(url: str) -> str:
    """The URL as messages show it: any `user:password@` replaced by `***@`."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()


def redirect_refusal(old: str, new: str) -> str:
    """Why a redirect from `old` to `new` is not followed ("" when it is): never from
    https:// to anything else, never to another host or port."""
    a, b = urlsplit(old), urlsplit(new)
    if a.scheme == "https" and b.scheme != "https":
        return f"redirect from https:// to {b.scheme or '(none)'}:// refused ({shown(new)})"
    if (a.hostname, a.port) != (b.hostname, b.port):
        return f"redirect to another host refused: {shown(old)} -> {shown(new)}"
    return ""


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(  # type: ignore[no-untyped-def]
        self, req, fp, code, msg, headers, newurl
    ):
        why = redirect_refusal(req.full_url, newurl)
        if why:
            raise _Permanent(why)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_opener = urllib.request.build_opener(_SafeRedirects)


def _copy_capped(src: BinaryIO, dst: BinaryIO, limit: int, end: float) -> int:
    total = 0
    while chunk := src.read(CHUNK):
        total += len(chunk)
        if total > limit:
            raise _Permanent(f"release is larger than the {limit}-byte limit")
        if time.monotonic() > end:
            raise _Deadline("the download did not finish before the fetch deadline")
        dst.write(chunk)
    return total


def _fetch_http(url: str, dest: Path, timeout: float, limit: int, end: float) -> int:
    req = urllib.request.Request(url, headers={"User-Agent": "freshfleet-boot"})
    timeout = max(0.1, min(timeout, end - time.monotonic()))
    try:
        with _opener.open(req, timeout=timeout) as resp, dest.open("wb") as out:
            length = resp.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > limit:
                raise _Permanent(f"release is {length} bytes, over the {limit}-byte limit")
            return _copy_capped(resp, out, limit, end)
    except urllib.error.HTTPError as exc:
        reason = f"HTTP {exc.code} {exc.reason} from {shown(url)}"
        if 400 <= exc.code < 500 and exc.code not in (408, 429):
            raise _Permanent(reason) from exc
        raise FetchError(reason) from exc
    except urllib.error.URLError as exc:
        raise FetchError(f"{shown(url)}: {exc.reason}") from exc
    except TimeoutError as exc:
        raise FetchError(f"{shown(url)}: timed out after {timeout:g} s") from exc
    except (OSError, http.client.HTTPException) as exc:  # a reset, a cut-short body
        raise FetchError(f"{shown(url)}: {exc!r}") from exc


def _fetch_s3(
    url: str, dest: Path, limit: int, s3_client: Callable[[], Any], bucket_owner: str, end: float
) -> int:
    parts = urlsplit(url)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    if not bucket or not key:
        raise _Permanent(f"{url} does not name a bucket and a key")
    if not bucket_owner:
        raise _Permanent(
            f"{url}: this instance's account is unknown (no IMDS identity document, no "
            "FRESHFLEET_ACCOUNT_ID), so the bucket's owner cannot be checked"
        )
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError as exc:
        raise _Permanent("s3:// needs boto3, which is not installed") from exc
    try:
        # A bucket of another account (its name taken first) answers 403: never fetched from.
        obj = s3_client().get_object(Bucket=bucket, Key=key, ExpectedBucketOwner=bucket_owner)
        if int(obj.get("ContentLength") or 0) > limit:
            size = obj["ContentLength"]
            raise _Permanent(f"release is {size} bytes, over the {limit}-byte limit")
        with dest.open("wb") as out:
            return _copy_capped(obj["Body"], out, limit, end)
    except ClientError as exc:
        err = exc.response.get("Error", {})
        reason = f"{err.get('Code', 'Error')}: {err.get('Message', '')} ({url})"
        if err.get("Code") in ("AccessDenied", "403"):
            reason += f" (the bucket must be owned by account {bucket_owner})"
        if err.get("Code") in ("NoSuchKey", "NoSuchBucket", "AccessDenied", "403", "404"):
            raise _Permanent(reason) from exc
        raise FetchError(reason) from exc
    except BotoCoreError as exc:
        raise FetchError(f"{url}: {exc}") from exc


def fetch(
    url: str,
    dest: Path,
    *,
    timeout: float = 30.0,
    attempts: int = 4,
    limit: int = 512 * 1024 * 1024,
    s3_client: Callable[[], Any] | None = None,
    bucket_owner: str = "",
    log: Callable[[str], None] = lambda _line: None,
    backoff: float = 1.0,
    deadline: float = 900.0,
) -> int:
    """Download url (https://, http://, s3://) to dest; returns its size in bytes.

    An s3:// URL is fetched only from a bucket `bucket_owner` (this instance's account) owns;
    without one it is refused.

    Retries network errors and 5xx answers with exponential backoff; fails at once on
    answers retrying cannot change (4xx, too large, a redirect off https:// or to another
    host). Every attempt and wait together end within `deadline` seconds, however slowly a
    server answers. Raises FetchError with the reason (the URL shown without credentials).
    """
    scheme = urlsplit(url).scheme
    if scheme not in ("https", "http", "s3"):
        raise FetchError(f"{shown(url)}: scheme {scheme or '(none)'}:// is not supported")
    if scheme == "s3" and s3_client is None:
        raise FetchError("s3:// needs an S3 client")
    dest.parent.mkdir(parents=True, exist_ok=True)
    end = time.monotonic() + deadline
    last: FetchError | None = None
    for attempt in range(1, attempts + 1):
        try:
            if scheme == "s3":
                assert s3_client is not None
                return _fetch_s3(url, dest, limit, s3_client, bucket_owner, end)
            return _fetch_http(url, dest, timeout, limit, end)
        except _Deadline as exc:
            dest.unlink(missing_ok=True)
            raise _Deadline(f"{shown(url)}: {exc} ({deadline:g} s)") from exc
        except _Permanent:
            dest.unlink(missing_ok=True)
            raise
        except FetchError as exc:
            dest.unlink(missing_ok=True)
            last = exc
            log(f"freshfleet-boot: fetch attempt {attempt}/{attempts} failed: {exc}")
            wait = backoff * 2 ** (attempt - 1)
            if attempt < attempts and time.monotonic() + wait >= end:
                raise FetchError(
                    f"{exc} (the {deadline:g} s fetch deadline allows no retry)"
                ) from exc
            if attempt < attempts:
                time.sleep(wait)
    assert last is not None
    raise FetchError(f"{last} (after {attempts} attempts)")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class VerifyError(Exception):
    """The download is not the release the record names."""


def verify(path: Path, expected: str) -> str:
    """Return the file's sha256; raise VerifyError when it is not `expected`."""
    actual = sha256_of(path)
    if actual != expected.lower():
        raise VerifyError(f"sha256 mismatch: expected {expected.lower()}, got {actual}")
    return actual
