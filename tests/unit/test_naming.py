"""Resource names fit AWS's limits and keep the rollout id whole."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rollout.naming import (
    TARGET_GROUP_NAME_LIMIT,
    is_rollout_id,
    new_rollout_id,
    server_group_name,
    valid_app_name,
)


def test_rollout_ids_sort_by_time() -> None:
    early = new_rollout_id(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    late = new_rollout_id(datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC))
    assert early.startswith("20260102-030405-") and is_rollout_id(early)
    assert early < late


def test_server_group_name_fits_target_group_rules() -> None:
    rid = new_rollout_id()
    for app in ("demo-web", "a-very-long-application-name-indeed", "x"):
        name = server_group_name(app, rid)
        assert len(name) <= TARGET_GROUP_NAME_LIMIT
        assert name.endswith(rid)
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]", name)


def test_same_release_twice_gets_two_names() -> None:
    assert server_group_name("demo-web", new_rollout_id()) != server_group_name(
        "demo-web", new_rollout_id()
    )


def test_app_names() -> None:
    assert valid_app_name("demo-web")
    assert not valid_app_name("Demo")
    assert not valid_app_name("-web")
    assert not valid_app_name("web;rm")
