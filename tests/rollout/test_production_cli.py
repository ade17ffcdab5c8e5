"""On a production account the command line asks twice, as the console does: `deploy`,
`rollback`, `resume` and `abort` go ahead only with the app's name typed on a terminal or
`--yes-production APP` in a script; `-y` alone answers the ordinary question, not this one.
Before, the CLI ignored `production_accounts` altogether."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

from tests.fixtures.terminal import run_on_a_terminal

APP = "demo-web"
ACCOUNT = "123456789012"  # localaws's (moto's) account


@pytest.fixture
def prod(fleet: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("FRESHFLEET_PRODUCTION_ACCOUNTS", ACCOUNT)
    fleet.env["FRESHFLEET_PRODUCTION_ACCOUNTS"] = ACCOUNT
    return fleet


def test_a_script_needs_yes_production_naming_the_app_and_nothing_happens_without(prod):
    seeded = prod.rollouts()  # the demo's own first rollout
    for args in (
        ("deploy", APP, "v2", "-y"),
        ("deploy", APP, "v2", "-y", "--yes-production", "other-app"),
        ("rollback", APP, "-y"),
        ("resume", APP, "-y"),
        ("abort", APP),
    ):
        run = prod.cli(*args)
        assert run.code == 2, (args, run.out + run.err)
        assert "nothing was done" in run.err or f"--yes-production {APP}" in run.err, run.err
    assert prod.rollouts() == seeded  # nothing was started
    assert prod.serving() == {"v1": 100}

    run = prod.cli("deploy", APP, "v2", "-y", "--yes-production", APP)
    assert run.code == 0, run.out + run.err
    assert prod.serving() == {"v2": 100}


def _on_a_terminal(prod: Any, typed: str, *args: str) -> tuple[int, str]:
    """`freshfleet ARGS` on a terminal where a person types `typed` and Enter at the prompt."""
    run = run_on_a_terminal(
        [sys.executable, "-m", "console.main", *args],
        {**os.environ, **prod.env},
        prompt=b"to deploy v2",
        typed=typed,
    )
    return run.code, run.shown


def test_on_a_terminal_the_app_name_must_be_typed(prod):
    seeded = prod.rollouts()
    code, shown = _on_a_terminal(prod, "demo-we", "deploy", APP, "v2", "-y")
    assert "PRODUCTION account 123456789012: type demo-web to deploy v2" in shown, shown
    assert code == 2 and "is not 'demo-web': nothing was done" in shown, shown
    assert prod.rollouts() == seeded

    code, shown = _on_a_terminal(prod, "demo-web", "deploy", APP, "v2", "-y")
    assert code == 0, shown
    assert prod.serving() == {"v2": 100}
