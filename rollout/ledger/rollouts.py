"""The rollouts table: one item per rollout, its steps written before and after each runs.

Only the rollout's runner writes its item, except `abort_requested`/`abort_by`, which any
process may set (ARCHITECTURE §4, abort from anywhere). Timestamps are ISO-8601 UTC strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rollout.aws.gateway import AwsError, Gateway, translated
from rollout.ledger.codec import attr, from_item, to_item
from rollout.ledger.tables import ROLLOUTS_STATE_INDEX
from rollout.ledger.vocabulary import STEP_DONE, UNFINISHED, StepStatus

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.type_defs import AttributeValueTypeDef, UpdateItemInputTypeDef


def utc_now() -> str:
    """Now as the ledger writes a time: ISO-8601 UTC to the second, `Z` suffixed."""
    return _iso(datetime.now(UTC))


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(slots=True)
class Step:
    """One step of a rollout as its item's `steps` list keeps it: written `running` before
    the step runs and again with how it ended. Times are the ledger's ISO strings ("" while
    unknown); `name` is a StepName and `status` a StepStatus, or a word an older item used."""

    name: str
    status: str
    started_at: str = ""
    finished_at: str = ""
    detail: str = ""

    def __post_init__(self) -> None:
        self.name, self.status = str(self.name), str(self.status)  # plain, as read back

    @property
    def done(self) -> bool:
        """The step completed (`ok`, or the words older items used for it)."""
        return self.status in STEP_DONE

    @property
    def ok(self) -> bool:
        """The step ended `ok` (the runner's own word for a step that completed)."""
        return self.status == StepStatus.OK

    def as_item(self) -> dict[str, str]:
        """The step as the item's `steps` list stores it (plain strings, this key order)."""
        return {
            "name": str(self.name),
            "status": str(self.status),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "detail": self.detail,
        }

    @classmethod
    def from_item(cls, values: Mapping[str, object]) -> Step:
        """A step back from the item's `steps` list; a missing field reads as ""."""

        def text(key: str) -> str:
            got = values.get(key)
            return "" if got is None else str(got)

        def time(key: str) -> str:
            got = values.get(key)
            if isinstance(got, int | float) and not isinstance(got, bool):  # epoch seconds
                return _iso(datetime.fromtimestamp(got, UTC))
            return text(key)

        return cls(
            name=text("name"),
            status=text("status"),
            started_at=time("started_at"),
            finished_at=time("finished_at"),
            detail=text("detail"),
        )


class RolloutLedger:
    """Reads and writes rollout items of one table."""

    def __init__(self, gw: Gateway, table: str) -> None:
        self.gw = gw
        self.table = table

    async def put(self, values: Mapping[str, Any]) -> None:
        """Write a whole item (a new rollout, or an audit record)."""
        client = await self.gw.dynamodb()
        with translated("dynamodb", "put_item"):
            await client.put_item(TableName=self.table, Item=to_item(values))

    async def update(
        self, app: str, rollout_id: str, *, fence: tuple[str, int] | None = None, **fields: Any
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

    async def get(self, app: str, rollout_id: str) -> dict[str, Any] | None:
        """The rollout's item as plain values (a strong read); None when there is none.
        `rollout.deploy.item.RolloutItem.from_item` reads it typed."""
        client = await self.gw.dynamodb()
        with translated("dynamodb", "get_item"):
            got = await client.get_item(
                TableName=self.table, Key=self._key(app, rollout_id), ConsistentRead=True
            )
        return from_item(got["Item"]) if "Item" in got else None

    async def recent(self, app: str, limit: int = 50) -> list[dict[str, Any]]:
        """The app's rollouts, newest first (ids sort by time)."""
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
        return [from_item(i) for i in got.get("Items", []) if "kind" not in from_item(i)]

    async def unfinished(self, app: str) -> dict[str, Any] | None:
        """The app's newest rollout in `running` or `detached` state, via the state index."""
        found: list[dict[str, Any]] = []
        for state in UNFINISHED:
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
            found.extend(from_item(i) for i in items)
        mine = sorted((r for r in found if r.get("app") == app), key=lambda r: r["rollout_id"])
        if not mine:
            return None
        # The index is eventually consistent: confirm with a strong read.
        latest = await self.get(app, str(mine[-1]["rollout_id"]))
        return latest if latest and latest.get("state") in UNFINISHED else None

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
