"""The locks table: one item per app, written only under conditions (ARCHITECTURE §3).

An item names its owner (caller ARN + host + pid), a `generation` that grows at every
takeover, and a `beat` count the heartbeat bumps. A free app is taken with
`attribute_not_exists(app)`; an existing item is replaced only on the condition that it is
still exactly what the contender judged (owner, generation, beat), so two contenders never
both win. Renewals and release are conditioned on owner and generation: a process can never
extend or drop a lease it lost. No condition reads a clock: wall-clock times are shown, never
trusted (`rollout.ledger.lease` judges staleness on the contender's own monotonic clock).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rollout.aws.gateway import AwsError, Gateway
from rollout.ledger.codec import ItemValue, Values, attr, from_item, to_item
from rollout.ledger.timestamps import parse_time
from rollout.model import LockInfo

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.type_defs import AttributeValueTypeDef

_CONDITION_FAILED = "ConditionalCheckFailedException"
_EPOCH = datetime.fromtimestamp(0, UTC)


def lock_of(values: Mapping[str, ItemValue]) -> LockInfo:
    """A lock item as a LockInfo, the one reading of a locks-table item (the observer's and
    the lease's): epoch seconds (or ISO-8601) become UTC datetimes, missing counters 0. It
    never fails on a time it cannot read: an unreadable time is the epoch, so the lock
    looks long over (the observer shows no lock; a hand lock can be taken; a deploy lease
    is still judged by its heartbeat, never by its times)."""
    return LockInfo(
        app=str(values["app"]),
        owner=str(values.get("owner", "")),
        acquired_at=parse_time(values.get("acquired_at")) or _EPOCH,
        expires_at=parse_time(values.get("expires_at")) or _EPOCH,
        message=str(values.get("message", "")),
        caller_arn=str(values.get("caller_arn", "")),
        generation=Values(values).number("generation"),
        beat=Values(values).number("beat"),
        lease_seconds=Values(values).seconds("lease_seconds") or 0.0,
        kind=str(values.get("kind", "deploy")),
    )


async def read_lock(gw: Gateway, table: str, app: str) -> LockInfo | None:
    """The app's lock item as it stands (expired or not), or None when there is none."""
    got = await gw.call(
        "dynamodb", "get_item", TableName=table, Key={"app": attr(app)}, ConsistentRead=True
    )
    return lock_of(from_item(got["Item"])) if "Item" in got else None


def _item(lock: LockInfo) -> dict[str, AttributeValueTypeDef]:
    return to_item(
        {
            "app": lock.app,
            "owner": lock.owner,
            "caller_arn": lock.caller_arn,
            "generation": lock.generation,
            "beat": lock.beat,
            "lease_seconds": lock.lease_seconds,
            "kind": lock.kind,
            "acquired_at": int(lock.acquired_at.timestamp()),
            "expires_at": int(lock.expires_at.timestamp()),
            "ttl": int(lock.expires_at.timestamp()) + 86400,
            "message": lock.message,
        }
    )


def _is(
    names: dict[str, str], values: dict[str, AttributeValueTypeDef], field: str, value: str | int
) -> str:
    """`field = value`, where an item written before the field existed counts as 0."""
    names[f"#{field}"] = field
    values[f":{field}"] = attr(value)
    if value in (0, ""):
        return f"(attribute_not_exists(#{field}) OR #{field} = :{field})"
    return f"#{field} = :{field}"


def _unchanged(held: LockInfo) -> tuple[str, dict[str, str], dict[str, AttributeValueTypeDef]]:
    """A condition that the item is still `held`: same owner, generation and heartbeat."""
    names: dict[str, str] = {}
    values: dict[str, AttributeValueTypeDef] = {}
    parts = [
        _is(names, values, "owner", held.owner),
        _is(names, values, "generation", held.generation),
        _is(names, values, "beat", held.beat),
    ]
    return " AND ".join(parts), names, values


async def _conditional(gw: Gateway, operation: str, **params: Any) -> bool:
    try:
        await gw.call("dynamodb", operation, **params)
    except AwsError as exc:
        if exc.code == _CONDITION_FAILED:
            return False
        raise
    return True


async def create_lock(gw: Gateway, table: str, lock: LockInfo) -> bool:
    """Write the lock if the app has none; False when any item (live or not) is there."""
    return await _conditional(
        gw,
        "put_item",
        TableName=table,
        Item=_item(lock),
        ConditionExpression="attribute_not_exists(app)",
    )


async def replace_lock(gw: Gateway, table: str, lock: LockInfo, held: LockInfo) -> bool:
    """Write the lock over `held` if the item is still exactly `held`; False when it moved."""
    condition, names, values = _unchanged(held)
    return await _conditional(
        gw,
        "put_item",
        TableName=table,
        Item=_item(lock),
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


async def renew_lock(
    gw: Gateway, table: str, app: str, owner: str, generation: int, expires_at: float
) -> bool:
    """Extend the lease and bump its heartbeat count if `owner` still holds `generation`;
    False when it has been taken or released."""
    names = {"#ttl": "ttl", "#beat": "beat"}
    values: dict[str, AttributeValueTypeDef] = {
        ":e": attr(int(expires_at)),
        ":t": attr(int(expires_at) + 86400),
        ":one": attr(1),
    }
    condition = " AND ".join(
        [_is(names, values, "owner", owner), _is(names, values, "generation", generation)]
    )
    return await _conditional(
        gw,
        "update_item",
        TableName=table,
        Key={"app": attr(app)},
        UpdateExpression="SET expires_at = :e, #ttl = :t ADD #beat :one",
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


async def holds(gw: Gateway, table: str, app: str, owner: str, generation: int) -> bool:
    """True when `owner` holds the app's lock at `generation` (a consistent read)."""
    held = await read_lock(gw, table, app)
    return held is not None and (held.owner, held.generation) == (owner, generation)


async def delete_lock(
    gw: Gateway, table: str, app: str, owner: str | None, generation: int | None = None
) -> bool:
    """Delete the lock if `owner` holds it (at `generation`, when given; any owner when
    `owner` is None); False when someone else does."""
    params: dict[str, Any] = {"TableName": table, "Key": {"app": attr(app)}}
    if owner is not None:
        names: dict[str, str] = {}
        values: dict[str, AttributeValueTypeDef] = {}
        parts = [_is(names, values, "owner", owner)]
        if generation is not None:
            parts.append(_is(names, values, "generation", generation))
        params["ConditionExpression"] = "attribute_not_exists(app) OR (" + " AND ".join(parts) + ")"
        params["ExpressionAttributeNames"] = names
        params["ExpressionAttributeValues"] = values
    return await _conditional(gw, "delete_item", **params)


async def delete_if_unchanged(gw: Gateway, table: str, held: LockInfo) -> bool:
    """Delete the lock if it is still exactly `held`; False when it moved (or is gone)."""
    condition, names, values = _unchanged(held)
    return await _conditional(
        gw,
        "delete_item",
        TableName=table,
        Key={"app": attr(held.app)},
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )
