"""Ledger timestamps: what is left of a wait that a crashed process began."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rollout.ledger.timestamps import iso, seconds_left


def test_seconds_left_counts_from_the_recorded_start_and_never_goes_below_zero() -> None:
    begun = iso(datetime.now(UTC) - timedelta(seconds=20))
    assert 9.0 < seconds_left(begun, 30.0) <= 10.0
    assert seconds_left(begun, 5.0) == 0.0
    # A start that cannot be read leaves the whole wait.
    assert seconds_left("", 30.0) == 30.0
    assert seconds_left("not a time", 30.0) == 30.0
