"""The fault matrix (docs/RELIABILITY.md): every failure a rollout meets, each case run with
load through the demo's local ALB and ended by the same audit — nothing orphaned, the lock
free, the ledger truthful, no request dropped by the serving fleet.

Simulated rows run on a fresh simulated demo each; the Docker rows (release faults the
real boot agent meets) share one real-mode localaws and run one after another.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.audit import audit
from tests.e2e.faults import AwsFault, deploy_in_process
from tests.e2e.load import Load
from tests.rollout import test_rollout_control as control
from tests.rollout.conftest import Fleet

FINAL = control.FINAL
SIMULATED_RATE = 20.0


@contextlib.contextmanager
def loaded(fleet: Fleet, rate: float = SIMULATED_RATE) -> Iterator[Load]:
    """Constant load through the app's listener for the body of the `with`."""
    url = f"http://127.0.0.1:{fleet.listener()['Port']}/"
    with Load(url, rate=rate, max_seconds=300) as load:
        load.wait_for(int(rate))  # the fleet answers before the case starts
        yield load


def _step(fleet: Fleet) -> str:
    return str((control._current_step(fleet) or {}).get("name", ""))


# -- the app itself fails ------------------------------------------------------------------


def test_never_healthy_fails_at_the_gate_and_the_old_fleet_keeps_serving(fleet: Fleet) -> None:
    with loaded(fleet) as load:
        run = fleet.cli("deploy", "demo-web", "v3", "-y")
    assert run.code == 1, run.out + run.err
    latest = audit(fleet, load, state="failed", reason="never healthy")
    assert next(s for s in latest["steps"] if s["name"] == "gate")["status"] == "failed"
    assert fleet.serving() == {"v1": 100}


def test_a_crash_10s_after_healthy_is_flipped_back_during_the_bake(fleet: Fleet) -> None:
    fleet.put_release("v2-crashy", simulate={"crash_after": 10})
    with loaded(fleet) as load:
        run = fleet.cli("deploy", "demo-web", "v2-crashy", "-y", "--bake", "60")
    assert run.code == 1, run.out + run.err
    latest = audit(fleet, load, state="rolled_back", reason="healthy targets during the bake")
    assert next(s for s in latest["steps"] if s["name"] == "bake")["status"] == "failed"
    assert fleet.serving() == {"v1": 100}


# -- the deploying process fails, or is stopped ---------------------------------------------


def test_sigkill_at_each_step_then_resume_finishes_or_rolls_back(
    slow_fleet: Fleet, until: Any
) -> None:
    with loaded(slow_fleet) as load:
        control.test_killed_at_each_step_then_resumed_leaves_nothing_behind(slow_fleet, until)
    audit(slow_fleet, load, state=FINAL)


@pytest.mark.parametrize("step", ["launch", "gate", "shift", "bake"])
def test_abort_from_a_second_process_rolls_back_to_the_old_fleet(
    slow_fleet: Fleet, until: Any, step: str
) -> None:
    fleet = slow_fleet
    with loaded(fleet) as load:
        deploy = fleet.spawn("deploy", "demo-web", "v2", "-y", "--bake", "60")
        try:
            until(lambda: _step(fleet) == step, within=60, what=f"the {step} step")
            stopped = fleet.cli("abort", "demo-web")
        finally:
            out, err = deploy.communicate(timeout=120)
    assert stopped.code == 0, stopped.out + stopped.err
    assert deploy.returncode == 1, out + err
    # Before the shift the new group is just deleted (aborted); after it, traffic flips back.
    latest = audit(fleet, load, state=("aborted", "rolled_back"))
    assert latest["abort_requested"] is True and latest["abort_by"]
    assert fleet.serving() == {"v1": 100}


def test_two_deploys_race_a_stale_lock_is_taken_and_a_forced_takeover_is_recorded(
    fleet: Fleet, until: Any
) -> None:
    db, table = fleet.aws("dynamodb"), fleet.config.tables.locks

    def lock_as(owner: str, expires_in: float) -> None:
        assert fleet.cli("lock", "demo-web", "-m", f"held by {owner}").code == 0
        db.update_item(
            TableName=table,
            Key={"app": {"S": "demo-web"}},
            UpdateExpression="SET #o = :o, expires_at = :e",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={
                ":o": {"S": owner},
                ":e": {"N": str(int(time.time() + expires_in))},
            },
        )

    with loaded(fleet) as load:
        # Two deploys at once: one runs, the other is told who holds the lock.
        control.test_two_deploys_at_once_one_runs_the_other_is_told_who_holds_the_lock(fleet, until)
        # A lock whose owner died long ago: its lease has expired, the next deploy takes it.
        lock_as("ghost@crashed-runner:1", expires_in=-120)
        stale = fleet.cli("deploy", "demo-web", "v2", "-y")
        assert stale.code == 0, stale.out + stale.err
        # A live lock of someone else's: refused with the holder named; --force is recorded.
        lock_as("alice@laptop:4242", expires_in=3600)
        refused = fleet.cli("deploy", "demo-web", "v1", "-y")
        assert refused.code == 3 and "alice@laptop:4242" in refused.err, refused.err
        assert fleet.cli("unlock", "demo-web", "--force").code == 0
        forced = fleet.cli("deploy", "demo-web", "v1", "-y")
        assert forced.code == 0, forced.out + forced.err
    audit(fleet, load, state="succeeded")
    audits = db.query(
        TableName=fleet.config.tables.rollouts,
        KeyConditionExpression="app = :a",
        ExpressionAttributeValues={":a": {"S": "demo-web"}},
        ConsistentRead=True,
    )["Items"]
    takeovers = [i for i in audits if i.get("kind", {}).get("S") == "lock-takeover"]
    assert any("alice@laptop:4242" in i["outcome"]["S"] for i in takeovers), takeovers
    assert fleet.serving() == {"v1": 100}


# -- AWS misbehaves ------------------------------------------------------------------------


async def test_throttling_on_a_share_of_aws_calls_the_rollout_still_completes(
    fleet: Fleet,
) -> None:
    throttle = AwsFault(share=0.2, status=400, code="Throttling")
    with loaded(fleet) as load:
        result = await deploy_in_process(fleet, "v2", throttle)
    assert result.state == "succeeded", result
    assert throttle.injected >= 5, throttle
    audit(fleet, load, state="succeeded")
    assert fleet.serving() == {"v2": 100}


async def test_aws_500s_on_a_share_of_calls_are_retried_and_the_rollout_completes(
    fleet: Fleet,
) -> None:
    errors = AwsFault(share=0.15, status=500, code="InternalError", seed=11)
    with loaded(fleet) as load:
        result = await deploy_in_process(fleet, "v2", errors)
    assert result.state == "succeeded", result
    assert errors.injected >= 5, errors
    audit(fleet, load, state="succeeded")
    assert fleet.serving() == {"v2": 100}
