"""The fault matrix (docs/RELIABILITY.md): every failure a rollout meets, each case run with
load through the demo's local ALB and ended by the same audit — nothing orphaned, the lock
free, the ledger truthful, no request dropped by the serving fleet.

Simulated rows run on a fresh simulated demo each; the Docker rows (release faults the
real boot agent meets) share one real-mode localaws and run one after another.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bootscript.releases import build_release_tarball
from localaws.process import LocalAws
from tests.e2e.audit import audit
from tests.e2e.conftest import demo_containers, freshfleet
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


STEPS = ("launch", "gate", "shift", "bake", "retire")


def _step(fleet: Fleet) -> str:
    return str((control._current_step(fleet) or {}).get("name", ""))


def _reached(fleet: Fleet, step: str) -> bool:
    """The running rollout is at `step` or at a later one before retiring."""
    now = _step(fleet)
    return now in STEPS[:4] and STEPS.index(now) >= STEPS.index(step)


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


def test_abort_from_a_second_process_at_each_step_rolls_back_to_the_old_fleet(
    slow_fleet: Fleet, until: Any
) -> None:
    fleet = slow_fleet
    with loaded(fleet) as load:
        for step in STEPS[:4]:
            deploy = fleet.spawn("deploy", "demo-web", "v2", "-y", "--bake", "60")
            try:
                # launch and shift are brief on a quick fleet: abort at the step or just after.
                until(lambda step=step: _reached(fleet, step), within=60, what=f"the {step} step")
                stopped = fleet.cli("abort", "demo-web")
            finally:
                out, err = deploy.communicate(timeout=120)
            assert stopped.code == 0, f"{step}: {stopped.out}{stopped.err}"
            assert deploy.returncode == 1, f"{step}: {out}{err}"
            # Before the shift the new group is deleted (aborted); after it, traffic flips back.
            latest = audit(fleet, load, state=("aborted", "rolled_back"))
            assert latest["abort_requested"] is True and latest["abort_by"], step
            assert fleet.serving() == {"v1": 100}, step
            fleet.wait_serving_healthy(3, within=60)


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
    print(f"\nthrottled {throttle.injected} of {throttle.injected + throttle.passed} requests")
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
    print(f"\nanswered 500 to {errors.injected} of {errors.injected + errors.passed} requests")
    audit(fleet, load, state="succeeded")
    assert fleet.serving() == {"v2": 100}


def test_credentials_that_stop_refreshing_mid_rollout_say_why_and_resume_once_fixed(
    fleet: Fleet, until: Any, tmp_path: Path
) -> None:
    # moto never checks credentials, so the failure is the SDK's own: a credential_process
    # whose credentials are always near expiry (refreshed before every call) starts failing
    # once a marker file appears, as an SSO session that ends mid-rollout.
    marker = tmp_path / "sso-session-ended"
    script = tmp_path / "credentials.sh"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ -e "{marker}" ]; then\n'
        '  echo "the SSO session ended: run aws sso login" >&2; exit 1\nfi\n'
        "exp=$(date -u -d '+5 minutes' +%Y-%m-%dT%H:%M:%SZ)\n"
        'printf \'{"Version": 1, "AccessKeyId": "AKIDLOCAL", "SecretAccessKey": "s", '
        '"SessionToken": "t", "Expiration": "%s"}\\n\' "$exp"\n'
    )
    script.chmod(0o755)
    config_file = tmp_path / "aws-config"
    config_file.write_text(f"[profile flaky]\ncredential_process = {script}\nregion = us-east-1\n")
    env = {
        **os.environ,
        **fleet.env,
        "AWS_CONFIG_FILE": str(config_file),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        # Not the local sandbox's file: these calls go out as to an AWS account, signed.
        "FRESHFLEET_ENDPOINT_FILE": str(tmp_path / "no-endpoint.json"),
        "FRESHFLEET_ROLLOUT__LOCK_LEASE_SECONDS": "3",
        "FRESHFLEET_ROLLOUT__LOCK_HEARTBEAT_SECONDS": "1",
    }
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(key, None)
    flags = ["--endpoint-url", fleet.url, "--profile", "flaky", "--region", "us-east-1"]

    def freshfleet(*args: str, **kw: Any) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "console.main", *args, *flags],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    with loaded(fleet) as load:
        deploy = freshfleet("deploy", "demo-web", "v2", "-y", "--bake", "60")
        try:
            until(lambda: _step(fleet) == "bake", within=90, what="the bake")
            marker.touch()
        finally:
            out, err = deploy.communicate(timeout=120)
        assert deploy.returncode not in (0, None), out + err
        said = " ".join((out + err).split())  # the terminal wraps long lines
        assert "retrieving credentials" in said and "SSO session ended" in said, out + err
        assert "Traceback" not in err, err  # the cause in one line, not under the SDK's logs
        assert fleet.latest()["state"] in ("running", "detached")  # unfinished, not lost
        print(f"\ndeploy exit {deploy.returncode}: {err.strip()[-400:]}")

        marker.unlink()  # signed in again
        deadline = time.monotonic() + 30
        while True:
            resume = freshfleet("resume", "demo-web", "-y")
            rout, rerr = resume.communicate(timeout=180)
            if resume.returncode != 3:  # 3: the dead owner's lease has not expired yet
                break
            assert time.monotonic() < deadline, rout + rerr
            time.sleep(0.3)
        assert resume.returncode == 0, rout + rerr
    audit(fleet, load, state="succeeded")
    assert fleet.serving() == {"v2": 100}


# -- the release is bad (real boot agent, Docker) --------------------------------------------

# fault release -> (phase it fails at, what the console output says)
RELEASE_FAULTS = {
    "missing": ("fetch", "404"),
    "unreachable": ("fetch", "fetch"),
    "bad-checksum": ("verify", "sha256"),
    "dotdot": ("extract", "path contains '..'"),
    "absolute-path": ("extract", "absolute"),
    "symlink-out": ("extract", "symlink"),
    "build-fails": ("build", "dependency libfreshfleet-demo is missing"),
}


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_bad_releases_fail_at_their_phase_and_roll_back_in_real_mode(
    real_localaws: LocalAws, real_fleet: Fleet, docker_engine: Any
) -> None:
    fleet = real_fleet
    fleet.wait_serving_healthy(3, within=300)
    serving = next(iter(fleet.serving()))
    absolute_escape = Path("/tmp/freshfleet-absolute-escaped.txt")
    absolute_escape.unlink(missing_ok=True)
    good_url = fleet.aws("dynamodb").get_item(
        TableName=fleet.config.tables.releases,
        Key={"app": {"S": "demo-web"}, "version": {"S": serving}},
    )["Item"]["url"]["S"]
    outcomes: dict[str, str] = {}
    with loaded(fleet, rate=20) as load:
        for fault, (phase, says) in RELEASE_FAULTS.items():
            if fault == "missing":
                url, sha = good_url.replace(f"/{serving}.tar.gz", "/missing.tar.gz"), "0" * 64
            elif fault == "unreachable":
                url, sha = "http://127.0.0.1:9/unreachable.tar.gz", "0" * 64
            else:
                url = good_url.replace(f"/{serving}.tar.gz", f"/{fault}.tar.gz")
                sha = build_release_tarball(fault)[1]
            record = ["release", "add", "demo-web", fault, "--url", url, "--sha256", sha]
            if phase == "fetch":
                # `release add` refuses a URL that does not answer; the fault here is a
                # tarball that was recorded, then deleted or its server lost.
                refused = freshfleet(fleet, *record)
                assert refused.returncode == 2 and "--no-check-url" in refused.stderr, refused
                record.append("--no-check-url")
            added = freshfleet(fleet, *record)
            assert added.returncode == 0, added.stdout + added.stderr
            started = time.monotonic()
            failed = freshfleet(fleet, "deploy", "demo-web", fault, "-y")
            assert failed.returncode == 1, failed.stdout + failed.stderr
            latest = audit(
                fleet,
                None,
                state="failed",
                containers=lambda: demo_containers(docker_engine, real_localaws),
            )
            consoles = _consoles(fleet, latest["rollout_id"])
            lines = [line for line in consoles.splitlines() if f" {phase} fail " in line]
            assert any(says in line for line in lines), f"{fault}: {consoles[-3000:]}"
            outcomes[fault] = (
                f"{latest['state']} in {time.monotonic() - started:.0f} s: {latest['reason']}"
            )
            assert fleet.serving() == {serving: 100}
    audit(
        fleet,
        load,
        state="failed",
        containers=lambda: demo_containers(docker_engine, real_localaws),
    )
    # Nothing a bad tarball carried was written outside its release directory.
    root = Path(real_localaws.endpoint_file or ".").parent
    assert not list(root.rglob("dotdot-escaped.txt"))
    assert not absolute_escape.exists()
    assert not [p for p in root.rglob("host-passwd") if p.is_symlink()]
    print("\nrelease faults:", *(f"  {k}: {v}" for k, v in outcomes.items()), sep="\n")


def _consoles(fleet: Fleet, rollout_id: str) -> str:
    """The console output of every instance the rollout launched."""
    ec2 = fleet.aws("ec2")
    found = ec2.describe_instances(
        Filters=[{"Name": "tag:freshfleet:rollout", "Values": [rollout_id]}]
    )
    return "".join(
        ec2.get_console_output(InstanceId=i["InstanceId"]).get("Output", "")
        for r in found["Reservations"]
        for i in r["Instances"]
    )
