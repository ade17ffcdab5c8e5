"""Small pieces of localaws that need no running server."""

from __future__ import annotations

import re
from typing import Any, cast

import pytest

from localaws.demo.seed_calls import AppSite, create_serving_group
from localaws.network.prober import _code_matches
from localaws.runtimes.boot_mode import choose_boot
from localaws.runtimes.simulated import boot_line
from rollout.aws.gateway import Gateway
from rollout.model import TAG_APP, Release
from rollout.naming import elb_tag_list


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


class _NoCalls:
    async def call(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"called AWS: {args}")


async def test_a_serving_group_is_made_only_at_its_own_apps_site() -> None:
    site = AppSite(
        app="demo-web",
        vpc="vpc-1",
        subnets=("subnet-a", "subnet-b"),
        load_balancer_arn="arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/demo-web/1",
        tags=tuple(elb_tag_list({TAG_APP: "demo-web"})),
    )
    release = Release(app="other", version="v1", url="https://x/v1.tar.gz", sha256="0" * 64)
    with pytest.raises(ValueError, match="release of 'other' at the site of 'demo-web'"):
        await create_serving_group(
            cast(Gateway, _NoCalls()),
            release,
            site,
            rollout_id="r1",
            template="t",
            template_version="1",
            capacity=1,
        )
