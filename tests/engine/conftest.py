"""Engine tests run against a real moto server (never hand-written fakes of AWS calls)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import pytest
from moto.server import ThreadedMotoServer

from rollout.aws.backend import Backend
from rollout.aws.gateway import Gateway
from rollout.config import Tables
from rollout.ledger.tables import setup_tables


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """One moto server for the engine tests; each test resets it through `moto`."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto(moto_url: str) -> str:
    """A clean moto server's URL: everything from earlier tests is gone."""
    import urllib.request

    urllib.request.urlopen(
        urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"), timeout=10
    ).read()
    return moto_url


@pytest.fixture
def tables() -> Tables:
    return Tables()


@pytest.fixture
async def gateway(moto: str) -> AsyncIterator[Gateway]:
    async with Gateway(Backend(endpoint_url=moto, region="us-east-1", local=True)) as gw:
        yield gw


@pytest.fixture
async def ledger(gateway: Gateway, tables: Tables) -> Gateway:
    """The gateway, with the ledger tables set up."""
    await setup_tables(gateway, tables)
    return gateway
