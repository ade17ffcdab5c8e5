"""The ways back and their estimates: pure estimating functions, then against localaws
(during a bake the flip back is offered; after it only a fresh deploy, with its ETA)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from rollout.aws.backend import Backend
from rollout.aws.gateway import Gateway
from rollout.config import RolloutSettings
from rollout.deploy import RollbackOptions, rollback_options
from rollout.deploy.ways_back import (
    NO_BOOTS,
    default_release,
    flip_back_estimate,
    format_seconds,
    fresh_deploy_eta,
    no_retained_reason,
    previous_release_of,
    serving_release,
)
from rollout.ledger.history import BootDurations
from rollout.ledger.rollout_item import RolloutItem, Step
from rollout.ledger.timestamps import iso

T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)


def _record(
    rid: str, frm: str, to: str, state: str, steps: dict[str, tuple[float, float]]
) -> RolloutItem:
    """A rollout whose steps ran at these (start, end) seconds after T0."""
    return RolloutItem(
        app="demo-web",
        rollout_id=rid,
        from_release=frm,
        to_release=to,
        strategy="blue-green",
        state=state,
        steps=tuple(
            Step(name, "ok", iso(T0 + timedelta(seconds=a)), iso(T0 + timedelta(seconds=b)))
            for name, (a, b) in steps.items()
        ),
    )


def test_format_seconds_reads_as_an_estimate():
    assert format_seconds(0.2) == "~ 1 s"
    assert format_seconds(2.4) == "~ 2 s"
    assert format_seconds(59.6) == "~ 1 min"
    assert format_seconds(190) == "~ 3 min 10 s"
    assert format_seconds(3 * 3600 + 120) == "~ 3 h 2 min"


def test_flip_back_is_the_median_recorded_shift_else_a_small_default():
    assert flip_back_estimate([]).text == "~ 2 s"
    assert "default" in flip_back_estimate([]).basis
    records = [
        _record("r3", "v1", "v2", "succeeded", {"shift": (10, 11)}),
        _record("r2", "v1", "v2", "rolled_back", {"shift": (10, 14)}),
        _record("r1", "", "v1", "succeeded", {"shift": (10, 13)}),
    ]
    flip = flip_back_estimate(records)
    assert flip.seconds == 3.0 and flip.basis == "median of 3 recorded shifts"


def test_a_fresh_deploys_eta_adds_boot_shift_bake_and_retire():
    settings = RolloutSettings(bake_seconds=60.0)
    records = [_record("r1", "", "v1", "succeeded", {"shift": (0, 2), "retire": (70, 78)})]
    boots = BootDurations({"v1": (40.0, 50.0, 45.0), "v2": (30.0,)})
    eta = fresh_deploy_eta("v1", boots, records, settings)
    assert eta is not None
    assert eta.seconds == 45.0 + 2.0 + 60.0 + 8.0
    assert eta.boot.basis == "median of 3 boots of v1"
    assert eta.text == "ETA ~ 1 min 55 s (boot ~ 45 s, shift ~ 2 s, bake ~ 1 min, retire ~ 8 s)"
    # A release never booted: the app's boots stand in for it.
    other = fresh_deploy_eta("v9", boots, records, settings)
    assert other is not None and other.boot.seconds == 42.5
    assert other.boot.basis == "median of the app's boots"
    # No boot at all: no ETA, and the console says so.
    assert fresh_deploy_eta("v1", BootDurations({}), records, settings) is None
    options = RollbackOptions(
        "demo-web",
        "v2",
        None,
        None,
        BootDurations({}),
        tuple(records),
        settings,  # type: ignore[arg-type]
    )
    assert options.eta_text("v1") == NO_BOOTS == "ETA unknown (no boots recorded)"


def test_what_serves_what_served_before_and_why_nothing_is_retained():
    records = [
        _record("r3", "v2", "v3", "failed", {}),
        _record("r2", "v1", "v2", "succeeded", {"bake": (20, 62)}),
        _record("r1", "", "v1", "succeeded", {}),
    ]
    assert serving_release(records) == "v2"
    baking = _record("r4", "v2", "v4", "running", {"shift": (0, 1)})
    launching = _record("r4", "v2", "v4", "running", {"launch": (0, 1)})
    assert serving_release([baking, *records]) == "v4"
    assert serving_release([launching, *records]) == "v2"
    releases = ["v1", "v2", "v3"]
    assert default_release(records, None, releases, "v2") == "v1"
    unfinished = RolloutItem("web", "r1", "running", from_release="v1")
    assert default_release([], unfinished, releases, "v2") == "v1"
    assert default_release([], None, releases, "v3") == "v2"  # the one listed before
    assert default_release([], None, releases, "") == "v3"
    assert default_release([], None, ["v1"], "v1") == ""
    # Nothing older than what serves: a newer release is a deploy, not a way back.
    assert default_release([], None, releases, "v1") == ""
    assert previous_release_of(records) == "v1"
    assert no_retained_reason(records) == "no retained group: the bake ended at 14:01"
    assert no_retained_reason([]) == "no retained group: no rollout is baking"


async def _options(fleet, serving: str = "") -> RollbackOptions:
    backend = Backend(endpoint_url=fleet.url, region="us-east-1", local=True)
    async with Gateway(backend) as gw:
        return await rollback_options(gw, fleet.config, "demo-web", serving=serving)


def test_during_the_bake_the_flip_back_is_offered_and_a_fresh_deploy_is_not(fleet, until):
    (v1_name, _), *_ = fleet.groups().items()
    deploy = fleet.spawn("deploy", "demo-web", "v2", "-y", "--bake", "60")
    try:
        until(
            lambda: any(
                s["name"] == "bake" for r in fleet.rollouts()[-1:] for s in r.get("steps", [])
            ),
            within=60,
            what="the bake",
        )
        options = asyncio.run(_options(fleet))
        assert options.serving == "v2"  # in traffic since the shift
        flip = options.flip_back
        assert flip.available, flip.reason
        assert (flip.group, flip.release, flip.healthy, flip.wanted) == (v1_name, "v1", 3, 3)
        assert flip.rollout_id == fleet.latest()["rollout_id"]
        # The shift of this very rollout is recorded: the estimate rests on it.
        assert flip.estimate.basis == "median of 1 recorded shift"
        assert flip.estimate.seconds < 60
        assert not options.fresh.available
        assert "unfinished" in options.fresh.reason
        assert options.fresh.release == "v1", (options.fresh, [r.state for r in options.records])
        run = fleet.cli("rollback", "demo-web", "-y")
        assert run.code == 0, run.out + run.err
        # The CLI prints the same estimate first.
        assert f"flip back to {v1_name} (v1): ~ " in run.out, run.out
    finally:
        out, err = deploy.communicate(timeout=60)
    assert fleet.latest()["state"] == "rolled_back", out + err
    assert fleet.serving() == {"v1": 100}


def test_after_the_bake_only_a_fresh_deploy_is_offered_with_its_eta(fleet):
    run = fleet.cli("deploy", "demo-web", "v2", "-y")
    assert run.code == 0, run.out + run.err
    options = asyncio.run(_options(fleet))
    assert options.serving == "v2"
    flip = options.flip_back
    assert not flip.available
    assert flip.reason.startswith("no retained group: the bake ended at ")
    fresh = options.fresh
    assert fresh.available and fresh.release == "v1"
    assert fresh.choices == ("v1", "v3", "v4", "v5")
    eta = options.eta("v1")
    assert eta is not None  # v2's boots were recorded by this very deploy
    assert eta.bake_seconds == fleet.config.rollout.bake_seconds
    assert options.eta_text("v1").startswith("ETA ~ ")
    # `freshfleet rollback` says the same ETA before it deploys v1 afresh.
    back = fleet.cli("rollback", "demo-web", "-y")
    assert back.code == 0, back.out + back.err
    assert "fresh deploy of v1: ETA ~ " in back.out, back.out
    assert fleet.serving() == {"v1": 100}


def test_a_fleet_without_history_has_no_way_back_from_its_first_release(fleet):
    options = asyncio.run(_options(fleet, serving="v1"))
    assert not options.flip_back.available
    assert options.flip_back.reason == "no retained group: no rollout is baking"
    # v2 to v5 are newer than the v1 that serves: going there is a deploy, not a way back.
    assert not options.fresh.available and options.fresh.release == ""
    assert options.fresh.reason == "no release of demo-web is older than v1: deploy rolls forward"
    assert options.fresh.choices == ("v2", "v3", "v4", "v5")
    if not options.boots.samples:
        assert options.eta_text("v2") == NO_BOOTS
