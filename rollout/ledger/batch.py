"""BatchGetItem as DynamoDB means it to be used: 100 keys a call, and every key back.

DynamoDB may answer any of a call's keys under `UnprocessedKeys` (throughput, a response
past 16 MB) for the caller to ask again with backoff (BatchGetItem API reference). Every
batch get of the engine goes through `batch_get`, so none drops a key.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from rollout.aws.gateway import AwsError, Gateway

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.type_defs import AttributeValueTypeDef

BATCH_GET_LIMIT = 100  # DynamoDB's BatchGetItem key limit
_STALLED_CALLS = 8  # calls in a row that serve no key before giving up
_LONGEST_WAIT = 1.0


async def batch_get(
    gateway: Gateway,
    table: str,
    keys: list[dict[str, AttributeValueTypeDef]],
    *,
    consistent: bool = False,
) -> list[dict[str, AttributeValueTypeDef]]:
    """Every item of `table` found for `keys` (DynamoDB-typed), in calls of 100 keys, each
    asked again for its `UnprocessedKeys` with backoff. Raises AwsError (code
    `ProvisionedThroughputExceededException`, transient) when DynamoDB serves nothing for
    several calls in a row, rather than answer without some keys."""
    batches = [keys[i : i + BATCH_GET_LIMIT] for i in range(0, len(keys), BATCH_GET_LIMIT)]
    found = await asyncio.gather(*(_one_batch(gateway, table, b, consistent) for b in batches))
    return [item for items in found for item in items]


async def _one_batch(
    gateway: Gateway, table: str, keys: list[dict[str, AttributeValueTypeDef]], consistent: bool
) -> list[dict[str, AttributeValueTypeDef]]:
    request: dict[str, Any] = {table: {"Keys": keys}}
    if consistent:
        request[table]["ConsistentRead"] = True
    items: list[dict[str, AttributeValueTypeDef]] = []
    stalled, wait = 0, 0.05
    while request:
        asked = sum(len(r.get("Keys", [])) for r in request.values())
        out = await gateway.call("dynamodb", "batch_get_item", RequestItems=request)
        items.extend(out.get("Responses", {}).get(table, []))
        request = out.get("UnprocessedKeys") or {}
        left = sum(len(r.get("Keys", [])) for r in request.values())
        if not request:
            break
        stalled = stalled + 1 if left >= asked else 0
        if stalled >= _STALLED_CALLS:
            raise AwsError(
                f"dynamodb:BatchGetItem left {left} keys of {table} unprocessed "
                f"{stalled} times in a row",
                code="ProvisionedThroughputExceededException",
                operation="BatchGetItem",
            )
        await asyncio.sleep(wait)  # DynamoDB asks us to back off
        wait = min(wait * 2, _LONGEST_WAIT)
    return items
