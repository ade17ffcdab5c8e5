"""The locks table: one item per app, written only under conditions (ARCHITECTURE §3).

Acquire is a conditional put (`attribute_not_exists(app) OR expires_at < :now`); renewals and
release are conditioned on the owner, so a process can never extend or drop another's lease.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rollout.gateway import AwsError, Gateway
from rollout.ledger.codec import attr, from_item, to_item
from rollout.model import LockInfo

_CONDITION_FAILED = "ConditionalCheckFailedException"


def lock_of(values: dict[str, Any]) -> LockInfo:
    """A lock item as a LockInfo (epoch seconds become UTC datetimes)."""
    return LockInfo(
        app=str(values["app"]),
        owner=str(values.get("owner", "")),
        acquired_at=datetime.fromtimestamp(float(values.get("acquired_at", 0)), UTC),
        expires_at=datetime.fromtimestamp(float(values.get("expires_at", 0)), UTC),
        message=str(values.get("message", "")),
        caller_arn=str(values.get("caller_arn", "")),
    )


async def read_lock(gw: Gateway, table: str, app: str) -> LockInfo | None:
    """The app's lock item as it stands (expired or not), or None when there is none."""
    got = await gw.call(
        "dynamodb", "get_item", TableName=table, Key={"app": attr(app)}, ConsistentRead=True
    )
    return lock_of(from_item(got["Item"])) if "Item" in got else None


async def put_lock(
    gw: Gateway, table: str, lock: LockInfo, *, now: float, force: bool = False
) -> bool:
    """Write the lock if it is free or expired (always with `force`); False when it is held."""
    item = to_item(
        {
            "app": lock.app,
            "owner": lock.owner,
            "caller_arn": lock.caller_arn,
            "acquired_at": int(lock.acquired_at.timestamp()),
            "expires_at": int(lock.expires_at.timestamp()),
            "ttl": int(lock.expires_at.timestamp()) + 86400,
            "message": lock.message,
        }
    )
    params: dict[str, Any] = {"TableName": table, "Item": item}
    if not force:
        params["ConditionExpression"] = "attribute_not_exists(app) OR expires_at < :now"
        params["ExpressionAttributeValues"] = {":now": attr(int(now))}
    try:
        await gw.call("dynamodb", "put_item", **params)
    except AwsError as exc:
        if exc.code == _CONDITION_FAILED:
            return False
        raise
    return True


async def renew_lock(gw: Gateway, table: str, app: str, owner: str, expires_at: float) -> bool:
    """Extend the lease if `owner` still holds it; False when it has been taken."""
    try:
        await gw.call(
            "dynamodb",
            "update_item",
            TableName=table,
            Key={"app": attr(app)},
            UpdateExpression="SET expires_at = :e, #ttl = :t",
            ConditionExpression="#owner = :o",
            ExpressionAttributeNames={"#owner": "owner", "#ttl": "ttl"},
            ExpressionAttributeValues={
                ":e": attr(int(expires_at)),
                ":t": attr(int(expires_at) + 86400),
                ":o": attr(owner),
            },
        )
    except AwsError as exc:
        if exc.code == _CONDITION_FAILED:
            return False
        raise
    return True


async def delete_lock(gw: Gateway, table: str, app: str, owner: str | None) -> bool:
    """Delete the lock if `owner` holds it (any owner when None); False when someone else does."""
    params: dict[str, Any] = {"TableName": table, "Key": {"app": attr(app)}}
    if owner is not None:
        params["ConditionExpression"] = "attribute_not_exists(app) OR #owner = :o"
        params["ExpressionAttributeNames"] = {"#owner": "owner"}
        params["ExpressionAttributeValues"] = {":o": attr(owner)}
    try:
        await gw.call("dynamodb", "delete_item", **params)
    except AwsError as exc:
        if exc.code == _CONDITION_FAILED:
            return False
        raise
    return True
