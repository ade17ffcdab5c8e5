"""The deploy lock under attack, from other processes of the same machine (issues 23.9 and
18.5): an `unlock` without --force, `$USER` set to the holder's name, a clock an hour fast,
and `resume --force` on a rollout that is still running. Each reproduces what went wrong."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from rollout.config import Tables

ALICE = {"USER": "alice", "LOGNAME": "alice"}

# A `freshfleet` whose wall clock runs an hour ahead (time.time, before anything imports it).
FAST_CLOCK = """
import sys, time
_real = time.time
time.time = lambda: _real() + 3600.0
from console.main import main
raise SystemExit(main(sys.argv[1:]))
"""


def _step(fleet: Any) -> str:
    rollouts = fleet.rollouts()
    if not rollouts or rollouts[-1]["state"] != "running":
        return ""
    steps = rollouts[-1].get("steps") or []
    return str(steps[-1]["name"]) if steps else ""


def _takeovers(fleet: Any) -> list[dict[str, Any]]:
    from tests.rollout.conftest import plain

    got = fleet.aws("dynamodb").query(
        TableName=Tables().rollouts,
        KeyConditionExpression="app = :a",
        ExpressionAttributeValues={":a": {"S": "demo-web"}},
        ConsistentRead=True,
    )
    return [plain(i) for i in got["Items"] if i.get("kind", {}).get("S") == "lock-takeover"]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def test_unlock_without_force_never_frees_a_running_deploys_lease(fleet, until):
    """Issue 23.9 and 18.5 (2): `unlock` from another process of the same user and host —
    `$USER` saying so too — is refused, naming the holder and --force; `--force` works, is on
    the record, and the deploy then stops where it stands instead of rolling itself back."""
    deploy = fleet.spawn("deploy", "demo-web", "v2", "-y", "--bake", "20", env=ALICE)
    try:
        until(lambda: _step(fleet) == "bake", within=60, what="the bake")
        holder = fleet.lock()
        assert holder is not None and holder["owner"].endswith(f":{deploy.pid}")
        # Another process of the same user, on the same host.
        same_user = fleet.spawn("unlock", "demo-web", env=ALICE)
        out, err = same_user.communicate(timeout=60)
        assert same_user.returncode == 3, out + err
        assert holder["owner"] in _one_line(err) and "--force" in err, err
        # The caller is who AWS says it is, whatever $USER says.
        mine = fleet.cli("unlock", "demo-web")
        assert mine.code == 3 and "--force" in mine.err, mine.out + mine.err
        still = fleet.lock()
        assert still is not None
        assert (still["owner"], still["generation"]) == (holder["owner"], holder["generation"])
        assert _step(fleet) == "bake", "the bake ended before the takeover: lengthen it"
        forced = fleet.cli("unlock", "demo-web", "--force")
        assert forced.code == 0, forced.out + forced.err
    finally:
        d_out, d_err = deploy.communicate(timeout=60)

    assert deploy.returncode == 3, d_out + d_err
    assert "released by someone else" in _one_line(d_out + d_err)
    assert fleet.serving() == {"v2": 100}  # no rollback of its own: it acted on nothing more
    (taken,) = _takeovers(fleet)
    assert taken["taken_from"] == holder["owner"] and "unlock --force" in taken["outcome"]
    assert taken["owner"] != holder["owner"]
    # The rollout waits for whoever picks it up.
    assert fleet.latest()["state"] == "running"
    resumed = fleet.cli("resume", "demo-web", "-y")
    assert resumed.code == 0, resumed.out + resumed.err
    assert fleet.latest()["state"] == "succeeded"
    assert fleet.leftovers() == []


def test_a_clock_an_hour_fast_cannot_take_a_live_deploys_lease(fleet, until):
    """Issue 18.5 (1): a contender whose wall clock is an hour ahead sees the deploy's lease as
    long expired; it watches it, sees the heartbeat renew it, and is refused."""
    fleet.env.update(
        FRESHFLEET_ROLLOUT__LOCK_LEASE_SECONDS="3", FRESHFLEET_ROLLOUT__LOCK_HEARTBEAT_SECONDS="0.5"
    )
    deploy = fleet.spawn("deploy", "demo-web", "v2", "-y", "--bake", "60")
    try:
        until(lambda: _step(fleet) not in ("", "plan"), within=60, what="the rollout")
        holder = fleet.lock()
        assert holder is not None
        fast = subprocess.Popen(
            [sys.executable, "-c", FAST_CLOCK, "lock", "demo-web", "-m", "fast clock"],
            env={**fleet.spawn_env()},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        out, err = fast.communicate(timeout=60)
        assert fast.returncode == 3, out + err
        assert holder["owner"] in _one_line(err), err
        still = fleet.lock()
        assert still is not None
        assert (still["owner"], still["generation"]) == (holder["owner"], holder["generation"])
        assert still["beat"] > holder["beat"]  # the holder kept heartbeating throughout
        stopped = fleet.cli("abort", "demo-web")
    finally:
        d_out, d_err = deploy.communicate(timeout=60)
    assert stopped.code == 0, stopped.out + stopped.err
    assert deploy.returncode == 1, d_out + d_err
    assert fleet.latest()["state"] in ("aborted", "rolled_back")
    assert _takeovers(fleet) == []
    assert fleet.serving() == {"v1": 100} and fleet.leftovers() == []


def test_resume_force_takes_a_running_rollout_over_and_the_old_process_stops(fleet, until):
    """Issue 18.5 (3): after `resume --force` only one process drives the rollout. The
    takeover raises the lease's generation; the old process fails its next fenced check and
    stops with the reason, flipping nothing back; the new one bakes and retires."""
    deploy = fleet.spawn("deploy", "demo-web", "v2", "-y", "--bake", "20")
    try:
        until(lambda: _step(fleet) == "bake", within=60, what="the bake")
        holder = fleet.lock()
        assert holder is not None
        resumed = fleet.cli("resume", "demo-web", "--force", "-y")
    finally:
        d_out, d_err = deploy.communicate(timeout=60)

    assert resumed.code == 0, resumed.out + resumed.err
    assert deploy.returncode == 3, d_out + d_err
    assert holder.get("generation") == 1
    said = _one_line(d_out + d_err)
    assert "taken over by" in said and "(generation 1 -> 2)" in said, said
    latest = fleet.latest()
    assert latest["state"] == "succeeded", latest
    assert latest["lock_generation"] == 2 and latest["owner"] != holder["owner"]
    assert [s["name"] for s in latest["steps"]].count("retire") == 1
    (taken,) = _takeovers(fleet)
    assert taken["taken_from"] == holder["owner"] and taken["generation"] == 2
    assert "forced takeover" in taken["outcome"]
    assert fleet.serving() == {"v2": 100} and fleet.leftovers() == []


_READS = ("Describe", "Get", "List", "BatchGet", "Query", "Scan")


async def test_a_mutating_call_after_a_takeover_mid_step_is_never_sent(fleet):
    """The lease is taken over in the middle of the retire step, as the old group's ASG is
    being deleted: the process stops before its next mutating AWS call (the old group's
    target group and launch-template version stay for the new holder to delete), where
    before it went on deleting until its next ledger write failed its fence."""
    from rollout.aws.backend import Backend
    from rollout.aws.gateway import Gateway
    from rollout.deploy import DeployRequest, Rollout, make_plan
    from rollout.ledger.lease import DeployLock

    config = fleet.config
    db = fleet.aws("dynamodb")
    sent_after: list[str] = []
    taken: list[int] = []

    def steal() -> None:
        held = db.get_item(
            TableName=config.tables.locks, Key={"app": {"S": "demo-web"}}, ConsistentRead=True
        )["Item"]
        generation = int(held["generation"]["N"]) + 1
        db.put_item(
            TableName=config.tables.locks,
            Item={
                **held,
                "owner": {"S": "intruder@elsewhere:1"},
                "generation": {"N": str(generation)},
            },
        )
        taken.append(generation)

    def before_call(model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        if taken and service != "dynamodb" and not model.name.startswith(_READS):
            sent_after.append(model.name)
        if model.name == "DeleteAutoScalingGroup" and not taken:
            steal()  # this call is past its check and goes out; none may follow it

    backend = Backend(endpoint_url=fleet.url, region="us-east-1", local=True)
    async with Gateway(backend) as gw:
        gw.register("before-call", before_call)
        async with DeployLock(gw, config.tables.locks, "demo-web", config.rollout) as lock:
            plan = await make_plan(gw, config, DeployRequest("demo-web", "v2"))
            result = await Rollout(gw, config, plan, lock).run()

    assert taken, "the retire never reached the old group's deletion"
    assert sent_after == [], sent_after
    assert result.state == "lost", result
    assert result.failed_step == "retire"
    old = plan.old_group
    assert old is not None
    tgs = fleet.aws("elbv2").describe_target_groups(TargetGroupArns=[old.target_group_arn])
    assert len(tgs["TargetGroups"]) == 1  # left for the lease's new holder
