"""The rollouts table: one item per rollout, its steps written before and after each runs.

Only the rollout's runner writes its item, except `abort_requested`/`abort_by`, which any
process may set (ARCHITECTURE §4, abort from anywhere). Timestamps are ISO-8601 UTC strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rollout.aws.gateway import AwsError, Gateway, translated
from rollout.ledger.codec import ItemValue, attr, from_item, to_item
from rollout.ledger.rollout_item import RolloutItem
from rollout.ledger.tables import ROLLOUTS_STATE_INDEX
from rollout.ledger.timestamps import iso_seconds
from rollout.ledger.vocabulary import UNFINISHED

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.type_defs import AttributeValueTypeDef, UpdateItemInputTypeDef


def utc_now() -> str:
    """Now as the ledger writes a time: ISO-8601 UTC to the second, `Z` suffixed."""
    return iso_seconds(datetime.now(UTC))


class RolloutLedger:
    """Reads and writes rollout items of one table."""

    def __init__(self, gw: Gateway, table: str) -> None:
        self.gw = gw
        self.table = table

    async def put(self, values: Mapping[str, object]) -> None:
        """Write a whole item (a new rollout, or an audit record)."""
        client = await self.gw.dynamodb()
        with translated("dynamodb", "put_item"):
            await client.put_item(TableName=self.table, Item=to_item(values))

    async def update(
        self, app: str, rollout_id: str, *, fence: tuple[str, int] | None = None, **fields: object
    ) -> bool:
        """SET the given fields (None removes nothing: it is skipped). With `fence` (owner,
        lock generation), only while the item still names that owner and generation: False,
        and nothing written, when another process has taken the rollout over."""
        fields = {k: v for k, v in fields.items() if v is not None}
        if not fields:
            return True
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":v{i}": attr(v) for i, v in enumerate(fields.values())}
        if fence is not None:
            owner, generation = fence
            names |= {"#fo": "owner", "#fg": "lock_generation"}
            values |= {":fo": attr(owner), ":fg": attr(generation)}
        params: UpdateItemInputTypeDef = {
            "TableName": self.table,
            "Key": self._key(app, rollout_id),
            "UpdateExpression": "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if fence is not None:
            params["ConditionExpression"] = "#fo = :fo AND #fg = :fg"
        client = await self.gw.dynamodb()
        try:
            with translated("dynamodb", "update_item"):
                await client.update_item(**params)
        except AwsError as exc:
            if fence is not None and exc.code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    @staticmethod
    def _key(app: str, rollout_id: str) -> dict[str, AttributeValueTypeDef]:
        return {"app": attr(app), "rollout_id": attr(rollout_id)}

    async def get(self, app: str, rollout_id: str) -> RolloutItem | None:
        """The rollout's item, typed (a strong read); None when there is none."""
        values = await self.get_values(app, rollout_id)
        return RolloutItem.from_item(values) if values is not None else None

    async def get_values(self, app: str, rollout_id: str) -> dict[str, ItemValue] | None:
        """The rollout's item as plain values (a strong read), fields `RolloutItem` does not
        read among them (its notifications); None when there is none."""
        client = await self.gw.dynamodb()
        with translated("dynamodb", "get_item"):
            got = await client.get_item(
                TableName=self.table, Key=self._key(app, rollout_id), ConsistentRead=True
            )
        return from_item(got["Item"]) if "Item" in got else None

    async def recent(self, app: str, limit: int = 50) -> list[RolloutItem]:
        """The app's rollouts, newest first (ids sort by time); audit items left out."""
        client = await self.gw.dynamodb()
        with translated("dynamodb", "query"):
            got = await client.query(
                TableName=self.table,
                KeyConditionExpression="app = :a",
                ExpressionAttributeValues={":a": attr(app)},
                ScanIndexForward=False,
                Limit=limit,
                ConsistentRead=True,
            )
        items = (RolloutItem.from_item(from_item(i)) for i in got.get("Items", []))
        return [i for i in items if not i.kind]

    async def in_states(self, states: Iterable[str]) -> list[RolloutItem]:
        """Every rollout of every app in one of `states`, through the state index (a query
        each, every page). The index is eventually consistent: an item may lag its table."""
        found: list[RolloutItem] = []
        for state in states:
            items = await self.gw.paginate(
                "dynamodb",
                "query",
                "Items",
                TableName=self.table,
                IndexName=ROLLOUTS_STATE_INDEX,
                KeyConditionExpression="#s = :s",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":s": attr(state)},
            )
            found.extend(RolloutItem.from_item(from_item(i)) for i in items)
        return found

    async def unfinished(self, app: str) -> RolloutItem | None:
        """The app's newest rollout in `running` or `detached` state, via the state index."""
        found = await self.in_states(UNFINISHED)
        mine = sorted((r for r in found if r.app == app), key=lambda r: r.rollout_id)
        if not mine:
            return None
        # The index is eventually consistent: confirm with a strong read.
        latest = await self.get(app, mine[-1].rollout_id)
        return latest if latest and latest.unfinished else None

    async def request_abort(
        self, app: str, rollout_id: str, by: str, action: str = "abort"
    ) -> None:
        """Ask the rollout's runner to stop at its next check (`action`: abort or rollback)."""
        await self.update(
            app,
            rollout_id,
            abort_requested=True,
            abort_by=by,
            abort_action=action,
            abort_requested_at=utc_now(),
        )

    async def abort_request(self, app: str, rollout_id: str) -> tuple[bool, str, str]:
        """(requested, by, action) as the item stands now."""
        client = await self.gw.dynamodb()
        with translated("dynamodb", "get_item"):
            got = await client.get_item(
                TableName=self.table,
                Key=self._key(app, rollout_id),
                ConsistentRead=True,
                ProjectionExpression="abort_requested, abort_by, abort_action",
            )
        item = from_item(got.get("Item", {}))
        return (
            bool(item.get("abort_requested", False)),
            str(item.get("abort_by", "")),
            str(item.get("abort_action", "abort")),
        )
