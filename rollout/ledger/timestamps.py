"""Ledger timestamps: written as ISO-8601 UTC strings, read from strings or epoch seconds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal


def iso(at: datetime) -> str:
    """ISO-8601 UTC with a `Z`, as every ledger timestamp is written."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_seconds(at: datetime) -> str:
    """ISO-8601 UTC to the second with a `Z`, as the rollouts table writes its times."""
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(value: object) -> datetime | None:
    """An ISO-8601 string or epoch seconds as an aware UTC datetime; None when absent or bad."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float | Decimal):
        return datetime.fromtimestamp(float(value), UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def seconds_left(started_at: object, seconds: float) -> float:
    """What is left of a `seconds`-long wait begun at `started_at` (a ledger timestamp):
    never below 0; all of it when the start cannot be read."""
    begun = parse_time(started_at)
    if begun is None:
        return seconds
    return max(0.0, seconds - (datetime.now(UTC) - begun).total_seconds())
