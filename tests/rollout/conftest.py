"""Rollout tests: each runs on a fresh localaws (simulated boots, real target health) with
the demo seed — `demo-web` behind its listener, 3 instances of v1, releases v1, v2 and v3
(never healthy) — and fast rollout timers for every process of the test.

`fleet` wraps that localaws with what the scenarios look at: the listener's weights, the
app's server groups and their healthy targets, the ledger, the lock, and leftovers.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer

from console.main import main
from localaws.testing import boto3_client, start_test_localaws
from rollout.config import Config, load_config

APP = "demo-web"

# Fast rollout timers for every process of a test (the CLI reads them from the environment).
FAST_ENV = {
    "FRESHFLEET_ROLLOUT__BAKE_SECONDS": "2",
    "FRESHFLEET_ROLLOUT__GATE_DEADLINE_SECONDS": "20",
    "FRESHFLEET_ROLLOUT__CANARY_WATCH_SECONDS": "1",
    "FRESHFLEET_ROLLOUT__POLL_SECONDS": "0.2",
}

_des = TypeDeserializer()


def plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _des.deserialize(v) for k, v in item.items()}


@dataclass
class CliRun:
    code: int
    out: str
    err: str


@dataclass
class Fleet:
    """One test's localaws and what a person would check on it."""

    url: str
    config: Config
    env: dict[str, str]
    _clients: dict[str, Any] = field(default_factory=dict)

    def aws(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3_client(service, self.url)
        return self._clients[service]

    # -- the CLI, as a person runs it -------------------------------------------------------

    def cli(self, *args: str) -> CliRun:
        """`freshfleet ARGS` in this process; returns its exit code and output."""
        from console.cli import common

        o, e = io.StringIO(), io.StringIO()
        with (
            contextlib.redirect_stdout(o),
            contextlib.redirect_stderr(e),
            _console_to(common.out, o),
            _console_to(common.err, e),
        ):
            code = main(list(args))
        return CliRun(int(code), o.getvalue(), e.getvalue())

    def spawn(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """`freshfleet ARGS` as another process (another terminal, a CI job); `env` adds to
        the test's environment."""
        return subprocess.Popen(
            [sys.executable, "-m", "console.main", *args],
            env=self.spawn_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def spawn_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment `spawn` gives a child process."""
        return {**os.environ, **self.env, **(extra or {})}

    # -- traffic and groups ------------------------------------------------------------------

    def listener(self) -> dict[str, Any]:
        elb = self.aws("elbv2")
        for lb in elb.describe_load_balancers()["LoadBalancers"]:
            for listener in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])[
                "Listeners"
            ]:
                tags = elb.describe_tags(ResourceArns=[listener["ListenerArn"]])
                if {"Key": "freshfleet:app", "Value": APP} in tags["TagDescriptions"][0]["Tags"]:
                    return dict(listener)
        raise AssertionError("the demo listener is gone")

    def weights(self) -> dict[str, int]:
        """Target group ARN -> weight of the forward action on the app's listener."""
        actions = self.listener()["DefaultActions"]
        action = next(a for a in actions if a["Type"] == "forward")
        return {
            g["TargetGroupArn"]: g.get("Weight", 1) for g in action["ForwardConfig"]["TargetGroups"]
        }

    def groups(self) -> dict[str, dict[str, Any]]:
        """The app's ASGs by name, with release tag and target group."""
        out = {}
        for g in self.aws("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]:
            tags = {t["Key"]: t["Value"] for t in g.get("Tags", [])}
            if tags.get("freshfleet:app") == APP:
                out[g["AutoScalingGroupName"]] = {
                    "release": tags.get("freshfleet:release"),
                    "rollout_id": tags.get("freshfleet:rollout"),
                    "tg": (g.get("TargetGroupARNs") or [""])[0],
                    "instances": [i["InstanceId"] for i in g.get("Instances", [])],
                }
        return out

    def zones(self, instance_ids: list[str]) -> set[str]:
        """The availability zones EC2 places these instances in."""
        got = self.aws("ec2").describe_instances(InstanceIds=instance_ids)["Reservations"]
        return {i["Placement"]["AvailabilityZone"] for r in got for i in r["Instances"]}

    def lb_zones(self) -> set[str]:
        """The zones the app's load balancer enables."""
        (lb,) = self.aws("elbv2").describe_load_balancers(Names=[APP])["LoadBalancers"]
        return {z["ZoneName"] for z in lb["AvailabilityZones"]}

    def release_of_tg(self, tg: str) -> str:
        tags = self.aws("elbv2").describe_tags(ResourceArns=[tg])["TagDescriptions"][0]["Tags"]
        return next((t["Value"] for t in tags if t["Key"] == "freshfleet:release"), "")

    def serving(self) -> dict[str, int]:
        """Release -> weight, for every group the listener forwards to with weight > 0."""
        return {self.release_of_tg(tg): w for tg, w in self.weights().items() if w > 0}

    def healthy(self, tg: str) -> int:
        got = self.aws("elbv2").describe_target_health(TargetGroupArn=tg)
        return sum(
            1 for d in got["TargetHealthDescriptions"] if d["TargetHealth"]["State"] == "healthy"
        )

    def wait_serving_healthy(self, count: int = 3, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while True:
            tgs = [tg for tg, w in self.weights().items() if w > 0]
            if tgs and all(self.healthy(tg) >= count for tg in tgs):
                return
            assert time.monotonic() < deadline, "the serving group never became healthy"
            time.sleep(0.1)

    # -- the ledger and the lock ----------------------------------------------------------------

    def rollouts(self) -> list[dict[str, Any]]:
        """The app's rollouts, oldest first (audit items left out)."""
        got = self.aws("dynamodb").query(
            TableName=self.config.tables.rollouts,
            KeyConditionExpression="app = :a",
            ExpressionAttributeValues={":a": {"S": APP}},
            ConsistentRead=True,
        )
        items = [plain(i) for i in got["Items"]]
        return [i for i in items if "kind" not in i]

    def latest(self) -> dict[str, Any]:
        return self.rollouts()[-1]

    def lock(self) -> dict[str, Any] | None:
        got = self.aws("dynamodb").get_item(
            TableName=self.config.tables.locks, Key={"app": {"S": APP}}, ConsistentRead=True
        )
        return plain(got["Item"]) if "Item" in got else None

    def put_release(self, version: str, *, like: str = "v2", **changes: Any) -> None:
        """A release item written as `release add` would (changes override fields)."""
        table = self.config.tables.releases
        db = self.aws("dynamodb")
        item = db.get_item(TableName=table, Key={"app": {"S": APP}, "version": {"S": like}})
        new = dict(item["Item"])
        new["version"] = {"S": version}
        for key, value in changes.items():
            if isinstance(value, dict):
                new[key] = {"M": {k: {"S": str(v)} for k, v in value.items()}}
            else:
                new[key] = {"S": str(value)}
        db.put_item(TableName=table, Item=new)

    # -- what must never be left behind ---------------------------------------------------------

    def leftovers(self) -> list[str]:
        """Anything of the app's outside the one serving group: ASGs, target groups,
        instances and launch-template versions nothing uses."""
        problems = []
        weights = self.weights()
        groups = self.groups()
        serving = {tg for tg, w in weights.items() if w > 0}
        for name, g in groups.items():
            if g["tg"] not in serving:
                problems.append(f"ASG {name} ({g['release']}) is out of traffic")
        for tg in weights:
            if tg not in serving:
                problems.append(f"listener still names {tg} with weight 0")
        elb = self.aws("elbv2")
        for tg in elb.describe_target_groups()["TargetGroups"]:
            if tg["TargetGroupArn"] not in serving:
                problems.append(f"target group {tg['TargetGroupName']} is left over")
        owned = {i for g in groups.values() for i in g["instances"]}
        ec2 = self.aws("ec2")
        for res in ec2.describe_instances()["Reservations"]:
            for inst in res["Instances"]:
                if (
                    inst["State"]["Name"] in ("pending", "running")
                    and inst["InstanceId"] not in owned
                ):
                    problems.append(f"instance {inst['InstanceId']} belongs to no group")
        problems += self.template_leftovers()
        if self.lock() is not None:
            problems.append(f"the lock is held: {self.lock()}")
        unfinished = [r for r in self.rollouts() if r["state"] in ("running", "detached")]
        problems += [f"rollout {r['rollout_id']} is {r['state']}" for r in unfinished]
        return problems

    def template_leftovers(self) -> list[str]:
        """Launch-template versions of rollouts whose group is gone, where the endpoint can
        delete versions at all (moto 5.2.5 lacks DeleteLaunchTemplateVersions)."""
        if not self._deletes_template_versions():
            return []
        live = {g["rollout_id"] for g in self.groups().values()}
        got = self.aws("ec2").describe_launch_template_versions(
            LaunchTemplateName="freshfleet-demo-web"
        )
        return [
            f"launch template version {v['VersionNumber']} ({v['VersionDescription']}) is left over"
            for v in got["LaunchTemplateVersions"]
            if str(v.get("VersionDescription", "")).startswith("freshfleet demo-web ")
            and str(v["VersionDescription"]).rsplit(" ", 1)[-1] not in live
        ]

    def _deletes_template_versions(self) -> bool:
        from botocore.config import Config as BotoConfig

        client = boto3.client(
            "ec2",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="freshfleet",
            aws_secret_access_key="freshfleet",
            config=BotoConfig(retries={"total_max_attempts": 1}),
        )
        try:
            client.delete_launch_template_versions(
                LaunchTemplateName="freshfleet-demo-web", Versions=["99999"]
            )
        except Exception:  # not implemented: a 500 that is not even XML
            return False
        return True


@contextlib.contextmanager
def _console_to(console: Any, stream: io.StringIO) -> Iterator[None]:
    # Restore rich's own unset file (None = "whatever sys.stdout is then"), not the stream
    # `console.file` resolves to now: pinning that would blind every later test's capsys.
    saved, width = console._file, console._width  # the same for the width: unset stays unset
    console.file, console.width = stream, 200  # one message, one line
    try:
        yield
    finally:
        console._file, console._width = saved, width


@pytest.fixture
def fleet(fresh_localaws: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Fleet:
    """A fresh seeded localaws whose serving group is healthy, and fast rollout timers."""
    env = {**FAST_ENV, "FRESHFLEET_ENDPOINT_FILE": str(fresh_localaws.endpoint_file)}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(tmp_path)  # no freshfleet.toml of the developer's
    f = Fleet(url=fresh_localaws.url, config=load_config(), env=env)
    f.wait_serving_healthy()
    return f


@pytest.fixture
def fleet_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Fleet]:
    """`fleet_on(localaws, **env)`: a Fleet on a localaws of the test's own (a module's),
    reseeded, with fast rollout timers and `env` for every process of the test."""

    def make(la: Any, **extra: str) -> Fleet:
        la.reseed()
        env = {**FAST_ENV, **extra, "FRESHFLEET_ENDPOINT_FILE": str(la.endpoint_file)}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        monkeypatch.chdir(tmp_path)
        f = Fleet(url=la.url, config=load_config(), env=env)
        f.wait_serving_healthy()
        return f

    return make


@pytest.fixture
def slow_fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    """Like `fleet`, but instances take about 4 s to boot: time to act during a gate."""
    slow = {"FRESHFLEET_LOCALAWS__PHASE_SECONDS": "60"}  # AWS seconds: 0.6 s each here
    with start_test_localaws(tmp_path / "localaws", env=slow) as la:
        env = {**FAST_ENV, "FRESHFLEET_ENDPOINT_FILE": str(la.endpoint_file)}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        monkeypatch.chdir(tmp_path)
        f = Fleet(url=la.url, config=load_config(), env=env)
        f.wait_serving_healthy(within=60)
        yield f


def wait_for(probe: Callable[[], Any], within: float = 30.0, what: str = "") -> Any:
    """Poll `probe` until truthy; fail after `within` s."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within:g} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def until() -> Callable[..., Any]:
    return wait_for
