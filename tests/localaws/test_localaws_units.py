"""Small pieces of localaws that need no running server."""

from __future__ import annotations

import re

import pytest

from localaws.network.prober import _code_matches
from localaws.runtimes.boot_mode import choose_boot
from localaws.runtimes.simulated import boot_line


def test_boot_simulated_says_why() -> None:
    choice = choose_boot("simulated")
    assert (choice.mode, choice.reason) == ("simulated", "--boot simulated")


def test_an_unknown_boot_mode_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown --boot 'fast': choose one of auto, real"):
        choose_boot("fast")


@pytest.mark.parametrize(
    ("code", "matcher", "matches"),
    [
        (200, "200", True),
        (204, "200", False),
        (204, "200-299", True),
        (302, "200,302", True),
        (500, "200-399", False),
    ],
)
def test_health_check_matchers_read_like_elb_matchers(
    code: int, matcher: str, matches: bool
) -> None:
    assert _code_matches(code, matcher) is matches


def test_phase_lines_have_the_boot_agents_format() -> None:
    line = boot_line("build", "fail", "exit code 1")
    assert re.fullmatch(
        r"freshfleet-boot \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ build fail exit code 1", line
    )


def test_the_time_scale_multiplies_every_aws_timing_alike() -> None:
    from localaws.timescale import scaled, set_time_scale, time_scale

    before = time_scale()
    try:
        set_time_scale(0.01)
        assert (scaled(30), scaled(300), scaled(5 * 30)) == (0.3, 3.0, 1.5)
        with pytest.raises(ValueError, match="above 0"):
            set_time_scale(0)
    finally:
        set_time_scale(before)


def test_the_time_scale_comes_from_the_config_and_must_be_positive() -> None:
    from rollout.config import ConfigError, load_config

    assert load_config(env={}).localaws.time_scale == 0.1  # the demo's pace
    got = load_config(env={"FRESHFLEET_LOCALAWS__TIME_SCALE": "0.5"})
    assert got.localaws.time_scale == 0.5
    flag = load_config(env={}, overrides={"localaws.time_scale": 1.0})
    assert flag.localaws.time_scale == 1.0
    with pytest.raises(ConfigError, match="time_scale"):
        load_config(env={"FRESHFLEET_LOCALAWS__TIME_SCALE": "0"})
