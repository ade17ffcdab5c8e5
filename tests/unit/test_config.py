"""freshfleet.toml loading: precedence, defaults, and errors that name the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rollout.config import Config, ConfigError, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "freshfleet.toml"
    path.write_text(text)
    return path


def test_defaults_when_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    config = load_config(env={})
    assert config == Config()
    assert config.tables.locks == "freshfleet-locks"
    assert config.rollout.bake_seconds == 600


def test_flags_beat_environment_beat_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[rollout]\nbake_seconds = 30\ngate_deadline_seconds = 50\n")
    env = {
        "FRESHFLEET_ROLLOUT__BAKE_SECONDS": "20",
        "FRESHFLEET_ROLLOUT__CANARY_SHARE_PERCENT": "5",
    }
    config = load_config(path, env=env, overrides={"rollout.bake_seconds": 10})
    assert config.rollout.bake_seconds == 10  # flag
    assert config.rollout.canary_share_percent == 5  # environment
    assert config.rollout.gate_deadline_seconds == 50  # file
    assert config.rollout.rolling_batch_percent == 25  # default
    assert config.source == str(path)


def test_table_prefix_and_single_name(tmp_path: Path) -> None:
    path = write(tmp_path, '[tables]\nprefix = "ops-"\nlocks = "shared-locks"\n')
    config = load_config(path, env={})
    assert load_config(env={"FRESHFLEET_TABLES__PREFIX": "x-"}).tables.rollouts == "x-rollouts"
    assert config.tables.releases == "ops-releases"
    assert config.tables.locks == "shared-locks"


def test_production_accounts_keymap_and_theme(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'production_accounts = ["111122223333"]\ntheme = "nord"\n[keymap]\ndeploy = "D"\n',
    )
    env = {"FRESHFLEET_PRODUCTION_ACCOUNTS": "444455556666,777788889999"}
    config = load_config(path, env=env)
    assert config.production_accounts == ("444455556666", "777788889999")
    assert config.keymap == {"deploy": "D"}
    assert config.theme == "nord"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("bake = 3\n", "bake"),
        ("[rollout]\nbake_secs = 3\n", "rollout.bake_secs"),
        ("[tables]\nledger = 'x'\n", "tables.ledger"),
        ("[localaws]\nboot_seconds = 1\n", "localaws.boot_seconds"),
    ],
)
def test_unknown_key_is_named(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"unknown key '{key}'")):
        load_config(write(tmp_path, text), env={})


def test_bad_value_names_key_and_type(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'rollout.bake_seconds' must be float"):
        load_config(write(tmp_path, '[rollout]\nbake_seconds = "soon"\n'), env={})


def test_a_bad_value_in_a_variable_is_blamed_on_the_variable_not_defaults() -> None:
    env = {"FRESHFLEET_ROLLOUT__BAKE_SECONDS": "soon"}
    with pytest.raises(ConfigError) as caught:
        load_config(env=env, path=None)
    said = str(caught.value)
    assert said.startswith("FRESHFLEET_ROLLOUT__BAKE_SECONDS: "), said
    assert "'rollout.bake_seconds' must be float, got 'soon'" in said
    assert "defaults" not in said


def test_unknown_environment_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'rollout\.bake'"):
        load_config(write(tmp_path, ""), env={"FRESHFLEET_ROLLOUT__BAKE": "1"})


def test_agent_environment_is_not_configuration(tmp_path: Path) -> None:
    env = {"FRESHFLEET_APP": "demo-web", "FRESHFLEET_VM_CACHE": "/tmp/x", "FRESHFLEET_X": "1"}
    assert load_config(write(tmp_path, ""), env=env).rollout.bake_seconds == 600


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[rollout\n")
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        load_config(path, env={})


def test_missing_forced_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml", env={})


def test_user_file_is_used_when_no_local_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "cfg"
    (home / "freshfleet").mkdir(parents=True)
    (home / "freshfleet" / "config.toml").write_text("[rollout]\nbake_seconds = 42\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    assert load_config(env={}).rollout.bake_seconds == 42


def test_demo_defaults_are_short_but_still_overridable(tmp_path: Path) -> None:
    path = write(tmp_path, "[rollout]\ngate_deadline_seconds = 50\n")
    config = load_config(path, env={}, demo=True)
    assert config.rollout.bake_seconds == 30  # the demo's bake
    assert config.rollout.gate_deadline_seconds == 50  # the file still wins
    assert load_config(path, env={}).rollout.bake_seconds == 600
