"""doctor and init run against a real moto server: an empty account with its default VPC."""

from __future__ import annotations

import argparse
import socket
import urllib.request
from collections.abc import AsyncIterator, Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from console.cli import doctor_cmd, init_cmd
from rollout.backend import Backend
from rollout.config import Tables
from rollout.gateway import Gateway

REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def account(moto_server: str) -> str:
    """A fresh account: moto reset, so only the default VPC and its subnets exist."""
    urllib.request.urlopen(
        urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"), timeout=10
    ).read()
    return moto_server


@pytest.fixture
def backend(account: str) -> Backend:
    return Backend(endpoint_url=account, region=REGION, local=True)


@pytest.fixture
async def gateway(backend: Backend) -> AsyncIterator[Gateway]:
    async with Gateway(backend) as gw:
        yield gw


@pytest.fixture
def tables() -> Tables:
    return Tables()


@pytest.fixture
def aws(account: str):  # type: ignore[no-untyped-def]
    """boto3 clients on the same account, for a test to look at what was made."""

    def client(service: str):  # type: ignore[no-untyped-def]
        return boto3.client(
            service,
            endpoint_url=account,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    return client


@pytest.fixture
def image_id(aws) -> str:  # type: ignore[no-untyped-def]
    return str(aws("ec2").describe_images()["Images"][0]["ImageId"])


@pytest.fixture
def freshfleet(account: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run `freshfleet doctor|init ...` against the account; returns the exit code."""
    monkeypatch.setenv("FRESHFLEET_ENDPOINT_FILE", "/nonexistent/localaws.json")

    def run(*argv: str) -> int:
        parser = argparse.ArgumentParser(prog="freshfleet")
        sub = parser.add_subparsers(dest="command")
        doctor_cmd.register(sub)
        init_cmd.register(sub)
        args = parser.parse_args([*argv, "--endpoint-url", account, "--region", REGION])
        return int(args.func(args))

    return run
