"""Every HTTP server of localaws gives a connection `header_timeout_seconds` to send a whole
request head: a client that says nothing, or trickles a header a byte at a time (each byte
well within any per-read timeout), is cut off instead of holding a server thread or task."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from localaws.process import LocalAws
from localaws.testing import boto3_client, start_test_localaws

HEADER_TIMEOUT = 0.5
GIVE_UP = 20.0  # a deadline for the test, far beyond the timeout: never a timed assertion


@pytest.fixture(scope="module")
def timed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    env = {"FRESHFLEET_LOCALAWS__HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT)}
    directory: Path = tmp_path_factory.mktemp("timed")
    with start_test_localaws(directory, env=env) as la:
        yield la


def _servers(la: LocalAws) -> dict[str, tuple[str, int]]:
    """moto's endpoint, the demo's load balancer, and the release server."""
    db = boto3_client("dynamodb", la.url)
    item = db.get_item(
        TableName="freshfleet-releases",
        Key={"app": {"S": "demo-web"}, "version": {"S": "v1"}},
    )["Item"]
    out = {}
    for name, url in (
        ("moto", la.url),
        ("load balancer", la.albs["demo-web"]),
        ("release server", item["url"]["S"]),
    ):
        parts = urlsplit(url)
        out[name] = (str(parts.hostname), int(parts.port or 80))
    return out


def _closed(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1024) == b""
    except ConnectionError:
        return True


@pytest.mark.parametrize("server", ["moto", "load balancer", "release server"])
def test_a_client_that_never_finishes_its_request_head_is_cut_off(
    timed: LocalAws, server: str
) -> None:
    host, port = _servers(timed)[server]
    with socket.create_connection((host, port), timeout=GIVE_UP) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        try:
            assert sock.recv(1024) == b""  # closed, without an answer
        except ConnectionError:
            pass  # reset: cut off too
        except TimeoutError:
            pytest.fail(f"the {server} still holds a silent connection after {GIVE_UP:g} s")


@pytest.mark.parametrize("server", ["moto", "load balancer", "release server"])
def test_a_client_that_trickles_its_request_head_is_cut_off(timed: LocalAws, server: str) -> None:
    host, port = _servers(timed)[server]
    with socket.create_connection((host, port), timeout=GIVE_UP) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        end = time.monotonic() + GIVE_UP
        cut = False
        while time.monotonic() < end and not cut:
            try:
                sock.sendall(b"a")  # one byte every 50 ms: each read is fast
            except (BrokenPipeError, ConnectionError):
                cut = True
                break
            cut = _closed(sock)
            time.sleep(0.05)
        assert cut, f"the {server} still reads a trickled header after {GIVE_UP:g} s"


def test_a_whole_request_is_answered_as_before(timed: LocalAws) -> None:
    sts = boto3_client("sts", timed.url)
    assert sts.get_caller_identity()["Account"] == "123456789012"
    assert sts.get_caller_identity()["Account"] == "123456789012"


def test_the_default_header_timeout_is_thirty_seconds() -> None:
    from rollout.config import LocalAwsTimers

    assert LocalAwsTimers().header_timeout_seconds == 30.0
