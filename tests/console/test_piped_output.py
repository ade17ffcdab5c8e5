"""Piped, the tables of `status`, `releases`, `history` and `doctor` print every value whole,
one record a line, whatever COLUMNS says; `--wide` prints the same on a terminal.

The commands run as a user runs them: `freshfleet ...` in a child process against a
localaws, its stdout a pipe (or a pseudo-terminal) 80 columns wide.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from console.cli.render_history import render_history
from localaws.process import LocalAws
from localaws.testing import boto3_client
from rollout.ledger.rollout_item import JudgeEvidence, RolloutItem
from rollout.ledger.timestamps import iso
from tests.fixtures.terminal import run_on_a_terminal

ROOT = Path(__file__).resolve().parents[2]
APP = "demo-web"
COMMANDS = {
    "status": ("status",),
    "releases": ("releases", APP),
    "history": ("history", APP),
    "doctor": ("doctor", "--app", APP),
}


def cli_env() -> dict[str, str]:
    """The environment of a user's shell 80 columns wide, importing this tree's code."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {
        **os.environ,
        "PYTHONPATH": path,
        "COLUMNS": "80",
        "LINES": "24",
        "TERM": "xterm-256color",
        "AWS_ACCESS_KEY_ID": "freshfleet",
        "AWS_SECRET_ACCESS_KEY": "freshfleet",
    }


def argv(la: LocalAws, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "console.main",
        *args,
        "--endpoint-url",
        la.url,
        "--region",
        la.region,
    ]


def piped(la: LocalAws, *args: str) -> str:
    """What `freshfleet ARGS | cat` shows."""
    done = subprocess.run(argv(la, *args), env=cli_env(), capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def on_a_terminal(la: LocalAws, *args: str) -> str:
    """What `freshfleet ARGS` shows in an 80×24 terminal, colours taken off."""
    run = run_on_a_terminal(argv(la, *args), cli_env(), stderr_apart=True, timeout=120)
    assert run.code == 0, run.stderr
    return run.shown


def steady(text: str) -> str:
    """The output without what changes from one run to the next (timings, the clock)."""
    return re.sub(r"local clock \d+ s (ahead of|behind)|\d+ ms", "N", text)


def settled(la: LocalAws) -> bool:
    """Every instance of the demo is a healthy target whose boot finished (nothing left to
    change between two runs of a command)."""
    shown = json.loads(piped(la, "status", "--json"))
    instances = [i for a in shown["apps"] for g in a["groups"] for i in g["instances"]]
    return bool(instances) and all(
        i["health"] == "healthy"
        and i["boot"]
        and i["boot"]["status"] == "ok"
        and i["boot"]["phase"] == "health"
        for i in instances
    )


@pytest.fixture
def fleet(fresh_localaws: LocalAws, eventually: Callable[..., Any]) -> dict[str, object]:
    """The demo, settled, and its ids as AWS has them: instance ids, group names, the
    listener's ARN."""
    la = fresh_localaws
    eventually(lambda: settled(la), within=90, what="the demo's instances healthy and booted")
    groups = boto3_client("autoscaling", la.url, la.region).describe_auto_scaling_groups()
    by_group = {
        g["AutoScalingGroupName"]: [i["InstanceId"] for i in g["Instances"]]
        for g in groups["AutoScalingGroups"]
        if g["AutoScalingGroupName"].startswith(f"{APP}-")
    }
    elbv2 = boto3_client("elbv2", la.url, la.region)
    balancer = elbv2.describe_load_balancers(Names=[APP])["LoadBalancers"][0]
    listeners = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])
    assert by_group and all(by_group.values())
    return {"groups": by_group, "listener": listeners["Listeners"][0]["ListenerArn"]}


def lines_with(text: str, value: str) -> list[str]:
    return [line for line in text.splitlines() if value in line]


def test_piped_tables_print_whole_ids_one_record_a_line_at_80_columns(
    fresh_localaws: LocalAws, fleet: dict[str, object]
) -> None:
    shown = {name: piped(fresh_localaws, *args) for name, args in COMMANDS.items()}
    for name, text in shown.items():
        assert "…" not in text, f"{name} cut a value:\n{text}"
    groups = fleet["groups"]
    assert isinstance(groups, dict)
    for group, instances in groups.items():
        for instance in instances:
            # The instance's record is one line that names its group too.
            (line,) = lines_with(shown["status"], instance)
            assert group in line and "running" in line and "healthy" in line, line
            assert len(line) > 80
    # Each release is one line with its whole sha256 and URL.
    releases = boto3_client("dynamodb", fresh_localaws.url, fresh_localaws.region).scan(
        TableName="freshfleet-releases"
    )["Items"]
    for item in releases:
        version, sha256, url = item["version"]["S"], item["sha256"]["S"], item["url"]["S"]
        (line,) = lines_with(shown["releases"], sha256)
        assert line.startswith(f"{version} ") and url in line, line
    # The seed's rollout: one line with its whole id (the group's suffix) and its outcome.
    (group,) = groups
    rollout_id = group.removeprefix(f"{APP}-")
    (line,) = lines_with(shown["history"], rollout_id)
    assert line.startswith(rollout_id) and "succeeded" in line, line
    # doctor: the listener's ARN whole on its check's line, a fix on its check's line.
    (line,) = lines_with(shown["doctor"], str(fleet["listener"]))
    assert line.startswith("✓ listener"), line
    (line,) = lines_with(shown["doctor"], "instance profile")
    assert "fix: create a role" in line and "freshfleet init demo-web`" in line, line


def test_wide_on_a_terminal_prints_what_a_pipe_gets(
    fresh_localaws: LocalAws, fleet: dict[str, object]
) -> None:
    # The pseudo-terminal is one: without --wide the tables are fitted to its 80 columns.
    fitted = on_a_terminal(fresh_localaws, "status")
    assert "…" in fitted and max(len(line) for line in fitted.splitlines()) <= 80
    for name, args in COMMANDS.items():
        wide = on_a_terminal(fresh_localaws, *args, "--wide")
        assert steady(wide) == steady(piped(fresh_localaws, *args)), name


def test_a_record_keeps_a_many_line_cell_on_its_line_and_marks_an_empty_one() -> None:
    # The history's outcome has the judge's evidence on a second line on a terminal.
    judged = RolloutItem(
        app=APP,
        rollout_id="20261127-115800-c3d4",
        from_release="v1",
        to_release="v5",
        strategy="blue-green",
        state="rolled_back",
        started_at=iso(datetime(2026, 11, 27, 11, 58, tzinfo=UTC)),
        reason="the judge failed v5 during the bake",
        judge=JudgeEvidence("fail", "bake", "slow", 1210, 0, 107.0, 1180, 0, 19.0, "p90"),
    )
    buffer = io.StringIO()
    render_history(Console(file=buffer, width=40), APP, [judged], full=True)
    title, header, line = buffer.getvalue().splitlines()
    assert title == f"rollouts of {APP}"
    assert header.split()[0] == "rollout" and line.startswith(judged.rollout_id)
    assert judged.judge is not None
    assert f"the judge failed v5 during the bake; judge {judged.judge.summary}" in line
    assert "  -  " in line  # no owner recorded: `-` keeps the columns countable
