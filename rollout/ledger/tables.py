"""The four ledger tables' schemas, `setup`, which creates them idempotently, and `app_items`,
the read of every item of one app."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from rollout.aws.gateway import AwsError, Gateway
from rollout.config import Tables
from rollout.ledger.codec import ItemValue, from_item, to_item

ROLLOUTS_STATE_INDEX = "state-index"


@dataclass(frozen=True, slots=True)
class TableSetup:
    """What `setup` did for one table."""

    name: str
    created: bool


def table_specs(tables: Tables) -> list[dict[str, Any]]:
    """The CreateTable parameters of every ledger table (on-demand billing)."""
    return [
        {
            "TableName": tables.releases,
            "KeySchema": _keys("app", "version"),
            "AttributeDefinitions": _strings("app", "version"),
        },
        {
            "TableName": tables.rollouts,
            "KeySchema": _keys("app", "rollout_id"),
            "AttributeDefinitions": _strings("app", "rollout_id", "state"),
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": ROLLOUTS_STATE_INDEX,
                    "KeySchema": _keys("state", "rollout_id"),
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        },
        {
            "TableName": tables.locks,
            "KeySchema": _keys("app"),
            "AttributeDefinitions": _strings("app"),
        },
        {
            "TableName": tables.instances,
            # The instance's ARN: the instance role's policy binds it to the caller.
            "KeySchema": _keys("instance_arn"),
            "AttributeDefinitions": _strings("instance_arn"),
        },
    ]


def _keys(hash_key: str, range_key: str = "") -> list[dict[str, str]]:
    """A KeySchema: the hash key, then the range key when there is one."""
    keys = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        keys.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return keys


def _strings(*names: str) -> list[dict[str, str]]:
    """AttributeDefinitions declaring each of `names` a string attribute."""
    return [{"AttributeName": name, "AttributeType": "S"} for name in names]


async def app_items(
    gateway: Gateway, table: str, app: str, *, scan: bool = False
) -> list[dict[str, ItemValue]]:
    """Every item of one app in `table`, as plain values, across all pages: a query on the
    table's `app` hash key, or with `scan` (a table keyed otherwise) a scan of the whole
    table filtered on its `app` attribute."""
    params: dict[str, Any] = {
        "TableName": table,
        "ExpressionAttributeValues": to_item({":app": app}),
    }
    if scan:
        items = await gateway.paginate(
            "dynamodb", "scan", "Items", FilterExpression="app = :app", **params
        )
    else:
        items = await gateway.paginate(
            "dynamodb", "query", "Items", KeyConditionExpression="app = :app", **params
        )
    return [from_item(i) for i in items]


async def setup_tables(gateway: Gateway, tables: Tables) -> list[TableSetup]:
    """Create every ledger table that does not exist and wait until all are ACTIVE.

    Idempotent: existing tables are left as they are, but one keyed otherwise than its
    schema (an instances table made before it was keyed by instance ARN) is an AwsError that
    says what to do. Returns one TableSetup per table.
    """
    existing = set(await gateway.paginate("dynamodb", "list_tables", "TableNames"))
    results: list[TableSetup] = []
    for spec in table_specs(tables):
        name = spec["TableName"]
        if name in existing:
            results.append(TableSetup(name, created=False))
            continue
        try:
            await gateway.call("dynamodb", "create_table", BillingMode="PAY_PER_REQUEST", **spec)
        except AwsError as exc:
            if exc.code != "ResourceInUseException":
                raise
            results.append(TableSetup(name, created=False))
            continue
        results.append(TableSetup(name, created=True))
    await asyncio.gather(*(_wait_active(gateway, r.name) for r in results))
    specs = {spec["TableName"]: spec for spec in table_specs(tables)}
    for r in results:
        if not r.created:
            await _check_keys(gateway, specs[r.name])
    # Housekeeping only: the lock logic never relies on TTL (ARCHITECTURE §3).
    for name in (tables.locks,):
        # Already enabled, or not supported by the endpoint: either way nothing to do.
        with contextlib.suppress(AwsError):
            await gateway.call(
                "dynamodb",
                "update_time_to_live",
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
            )
    return results


async def _check_keys(gateway: Gateway, spec: dict[str, Any]) -> None:
    """AwsError when an existing table's key schema is not `spec`'s."""
    name = spec["TableName"]
    desc = await gateway.call("dynamodb", "describe_table", TableName=name)
    have = [(k["AttributeName"], k["KeyType"]) for k in desc["Table"].get("KeySchema", [])]
    want = [(k["AttributeName"], k["KeyType"]) for k in spec["KeySchema"]]
    if have != want:
        keyed = ", ".join(n for n, _ in have) or "nothing"
        raise AwsError(
            f"table {name} is keyed by {keyed}, but freshfleet keys it by "
            f"{', '.join(n for n, _ in want)}: a table made by an older freshfleet. "
            + (
                "It holds only boot reports (a cache the agents rewrite at every phase): "
                f"delete it (`aws dynamodb delete-table --table-name {name}`) and run "
                "`freshfleet setup` again"
                if want == [("instance_arn", "HASH")]
                else "Move its items to a table with that key, then run `freshfleet setup`"
            ),
            code="KeySchemaMismatch",
        )


async def _wait_active(gateway: Gateway, name: str, within: float = 120.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        desc = await gateway.call("dynamodb", "describe_table", TableName=name)
        if desc["Table"].get("TableStatus") == "ACTIVE":
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AwsError(f"table {name} did not become ACTIVE in {within:.0f} s")
        await asyncio.sleep(1.0)


async def missing_tables(gateway: Gateway, tables: Tables) -> list[str]:
    """The ledger tables that do not exist (for clear "run `freshfleet setup`" errors)."""
    existing = set(await gateway.paginate("dynamodb", "list_tables", "TableNames"))
    return [spec["TableName"] for spec in table_specs(tables) if spec["TableName"] not in existing]
