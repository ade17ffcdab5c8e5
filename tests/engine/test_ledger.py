"""The ledger's read and write functions against a real DynamoDB (moto's server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollout.aws.gateway import AwsError, Gateway
from rollout.config import Tables
from rollout.ledger.codec import to_item
from rollout.ledger.history import active_rollouts, app_history, boot_durations
from rollout.ledger.instances import app_boots, instance_arn, latest_phases, record_phase
from rollout.ledger.releases import ReleaseError, add_release, get_release, list_releases
from rollout.ledger.tables import setup_tables
from rollout.ledger.timestamps import iso
from rollout.model import Phase, PhaseStatus, Release

SHA = "0123456789abcdef" * 4
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def release(version: str, **changes: Any) -> Release:
    values: dict[str, Any] = {
        "app": "shop",
        "version": version,
        "url": f"https://releases.example.com/shop/{version}.tgz",
        "sha256": SHA,
    }
    return Release(**{**values, **changes})


def bad_release(**changes: Any) -> Release:
    return release(changes.pop("version", "v1"), **changes)


async def test_releases_are_added_once_listed_in_order_and_read_back(ledger: Gateway) -> None:
    tables = Tables()
    await add_release(ledger, tables, release("v1", created_at=T0, notes="first"))
    await add_release(ledger, tables, release("v2", created_at=T0 + timedelta(hours=1)))
    await add_release(
        ledger, tables, release("v10", created_at=T0 + timedelta(hours=2), simulate={"fail": "run"})
    )

    assert [r.version for r in await list_releases(ledger, tables, "shop")] == ["v1", "v2", "v10"]
    v1 = await get_release(ledger, tables, "shop", "v1")
    assert v1 is not None and (v1.notes, v1.sha256, v1.created_at) == ("first", SHA, T0)
    v10 = await get_release(ledger, tables, "shop", "v10")
    assert v10 is not None and v10.simulate == {"fail": "run"}
    assert await get_release(ledger, tables, "shop", "v3") is None

    with pytest.raises(ReleaseError, match="exists already"):
        await add_release(ledger, tables, release("v1", notes="again"))
    again = await get_release(ledger, tables, "shop", "v1")
    assert again is not None and again.notes == "first"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sha256": "abc"}, "64 hexadecimal"),
        ({"url": "ftp://x.example/a.tgz"}, "URL"),
        ({"version": "v1; rm -rf /"}, "version"),
        ({"health_path": "health"}, "health path"),
    ],
)
async def test_a_bad_release_is_refused_and_nothing_is_written(
    ledger: Gateway, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ReleaseError, match=message):
        await add_release(ledger, Tables(), bad_release(**changes))
    assert await list_releases(ledger, Tables(), "shop") == []


async def test_the_latest_boot_phase_of_many_instances(ledger: Gateway) -> None:
    tables = Tables()
    ids = [f"i-{n:017x}" for n in range(150)]  # more than one BatchGetItem
    for n, i in enumerate(ids):
        phase = Phase.HEALTH if n % 2 else Phase.BUILD
        await record_phase(
            ledger, tables, instance_id=i, app="shop", release="v1", phase=phase,
            status=PhaseStatus.OK, at=T0 + timedelta(seconds=90), started_at=T0,
        )  # fmt: skip
    await record_phase(
        ledger, tables, instance_id=ids[0], app="shop", release="v1", phase=Phase.RUN,
        status=PhaseStatus.FAIL, detail="exit 1", at=T0 + timedelta(seconds=95),
    )  # fmt: skip

    boots = await latest_phases(ledger, tables, [*ids, "i-unknown"])
    assert len(boots) == 150
    assert (boots[ids[0]].boot.phase, boots[ids[0]].boot.detail) == (Phase.RUN, "exit 1")
    assert boots[ids[0]].final and boots[ids[1]].final and not boots[ids[2]].final

    durations = boot_durations([], await app_boots(ledger, tables, "shop"))
    assert durations.typical("v1") == 90.0


async def test_a_row_is_the_instance_its_key_names_whatever_its_attributes_say(
    ledger: Gateway,
) -> None:
    """The key is the writer's own instance ARN (all the instance role may write); a row
    whose `instance_id` attribute names another instance is still the writer's own."""
    tables = Tables()
    mine, victim = "i-0aaaaaaaaaaaaaaaa", "i-0bbbbbbbbbbbbbbbb"
    await record_phase(
        ledger, tables, instance_id=mine, app="shop", release="v1", phase=Phase.BUILD,
        status=PhaseStatus.OK, at=T0,
    )  # fmt: skip
    key = instance_arn("us-east-1", "123456789012", mine)
    got = await ledger.call(
        "dynamodb", "get_item", TableName=tables.instances, Key=to_item({"instance_arn": key})
    )
    assert got["Item"]["instance_id"] == {"S": mine}
    forged = {**got["Item"], "instance_id": {"S": victim}, "status": {"S": "fail"}}
    await ledger.call("dynamodb", "put_item", TableName=tables.instances, Item=forged)

    assert await latest_phases(ledger, tables, [victim]) == {}
    boots = await latest_phases(ledger, tables, [mine, victim])
    assert list(boots) == [mine] and boots[mine].instance_id == mine
    assert [b.instance_id for b in await app_boots(ledger, tables, "shop")] == [mine]


async def put_rollout(gw: Gateway, tables: Tables, **values: Any) -> None:
    """A rollouts-table item as the rollout state machine writes it."""
    await gw.call("dynamodb", "put_item", TableName=tables.rollouts, Item=to_item(values))


def step(name: str, start: datetime, seconds: float, status: str = "ok") -> dict[str, Any]:
    return {
        "name": name,
        "status": status,
        "started_at": iso(start),
        "finished_at": iso(start + timedelta(seconds=seconds)),
        "detail": "",
    }


async def test_history_is_newest_first_with_durations_and_boot_times(ledger: Gateway) -> None:
    tables = Tables()
    await put_rollout(
        ledger, tables, app="shop", rollout_id="20261127-100000-aaaa", from_release="",
        to_release="v1", strategy="blue-green", state="succeeded", owner="ann@laptop:1",
        started_at=iso(T0), finished_at=iso(T0 + timedelta(seconds=200)), outcome="succeeded",
        steps=[step("launch", T0, 5), step("gate", T0 + timedelta(seconds=5), 115)],
    )  # fmt: skip
    later = T0 + timedelta(hours=1)
    await put_rollout(
        ledger, tables, app="shop", rollout_id="20261127-110000-bbbb", from_release="v1",
        to_release="v2", strategy="canary", state="running", owner="bob@ci:7",
        started_at=iso(later), steps=[step("launch", later, 4)],
    )  # fmt: skip

    history = await app_history(ledger, tables, "shop")
    assert [r.to_release for r in history] == ["v2", "v1"]
    assert history[0].duration_seconds is None and history[0].unfinished
    assert history[1].duration_seconds == 200.0
    assert [r.rollout_id for r in await app_history(ledger, tables, "shop", limit=1)] == [
        "20261127-110000-bbbb"
    ]
    assert [r.rollout_id for r in await active_rollouts(ledger, tables)] == ["20261127-110000-bbbb"]
    durations = boot_durations(history)
    assert durations.typical("v1") == 120.0
    assert durations.typical("v9") == 120.0, "an unknown release falls back to all releases"


async def test_setup_names_an_instances_table_keyed_the_old_way(gateway: Gateway) -> None:
    """A table keyed by the bare instance id (before the key was the instance's ARN) would
    take no boot report the instance role may write: setup says so and what to do."""
    tables = Tables()
    await gateway.call(
        "dynamodb",
        "create_table",
        TableName=tables.instances,
        KeySchema=[{"AttributeName": "instance_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "instance_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    old_key = "keyed by instance_id, but freshfleet keys it by instance_arn"
    with pytest.raises(AwsError, match=old_key) as refused:
        await setup_tables(gateway, tables)
    assert f"delete-table --table-name {tables.instances}" in str(refused.value)
    await gateway.call("dynamodb", "delete_table", TableName=tables.instances)
    assert [r.name for r in await setup_tables(gateway, tables) if r.created] == [tables.instances]
    await setup_tables(gateway, tables)  # and again: every table as it should be
