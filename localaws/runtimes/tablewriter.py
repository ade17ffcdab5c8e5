"""Writes boot phases to the instances table, coalesced so thousands of instances fit.

Only an instance's latest phase matters in the table (one item per instance), so
updates made between two flushes collapse into one item, written in batches of 25.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from localaws.tasks import cancel_and_wait
from rollout.aws.backend import Backend
from rollout.aws.gateway import AwsError, Gateway

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.2
BATCH = 25  # DynamoDB's BatchWriteItem limit


class InstancesTableWriter:
    """`put(table, item)` from the loop thread; a background task writes them."""

    def __init__(self, endpoint_url: str, region: str) -> None:
        self._backend = Backend(endpoint_url=endpoint_url, region=region, local=True)
        self._pending: dict[tuple[str, str], dict[str, str]] = {}
        self._gateway: Gateway | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def open(self) -> None:
        self._gateway = Gateway(self._backend)
        self._task = asyncio.create_task(self._run(), name="instances-table-writer")

    def put(self, table: str, item: dict[str, str]) -> None:
        self._pending[(table, item["instance_id"])] = item
        self._wake.set()

    async def flush(self) -> None:
        """Write everything pending now."""
        while self._pending and self._gateway is not None:
            batch = dict(self._pending)
            self._pending.clear()
            by_table: dict[str, list[dict[str, str]]] = {}
            for (table, _), item in batch.items():
                by_table.setdefault(table, []).append(item)
            for table, items in by_table.items():
                for i in range(0, len(items), BATCH):
                    await self._write(table, items[i : i + BATCH])

    async def _write(self, table: str, items: list[dict[str, str]]) -> None:
        assert self._gateway is not None
        requests: list[dict[str, Any]] = [
            {"PutRequest": {"Item": {k: {"S": str(v)} for k, v in item.items()}}} for item in items
        ]
        try:
            await self._gateway.call("dynamodb", "batch_write_item", RequestItems={table: requests})
        except AwsError as exc:
            # A missing table (someone deleted it) must not stop instances from booting.
            log.debug("instances table write failed: %s", exc)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except Exception as exc:  # keep writing later updates whatever happened
                log.debug("instances table flush failed: %s", exc)
            await asyncio.sleep(FLUSH_SECONDS)

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        # No last flush: localaws is exiting and its tables go with it.
        if self._gateway is not None:
            await self._gateway.close()
