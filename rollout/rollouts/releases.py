"""Release lookup for a rollout: one item of the releases table (DESIGN §3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rollout.gateway import Gateway
from rollout.ledger.codec import attr, from_item
from rollout.model import Release
from rollout.userdata import decode_simulate


def release_of(values: dict[str, Any]) -> Release:
    """A releases-table item as a Release."""
    simulate = values.get("simulate")
    if isinstance(simulate, str):
        simulate = decode_simulate(simulate)
    created = values.get("created_at")
    try:
        created_at = (
            datetime.fromisoformat(str(created).replace("Z", "+00:00")) if created else None
        )
    except ValueError:
        created_at = None
    return Release(
        app=str(values["app"]),
        version=str(values["version"]),
        url=str(values.get("url", "")),
        sha256=str(values.get("sha256", "")),
        port=int(values.get("port", 8080)),
        health_path=str(values.get("health_path", "/health")),
        created_at=created_at,
        created_by=str(values.get("created_by", "")),
        notes=str(values.get("notes", "")),
        simulate=simulate or None,
    )


async def find_release(gw: Gateway, table: str, app: str, version: str) -> Release | None:
    """The release `version` of `app`, or None when the table has no such item."""
    got = await gw.call(
        "dynamodb",
        "get_item",
        TableName=table,
        Key={"app": attr(app), "version": attr(version)},
        ConsistentRead=True,
    )
    return release_of(from_item(got["Item"])) if "Item" in got else None
