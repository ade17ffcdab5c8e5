"""freshfleet's configuration: `freshfleet.toml`, environment, flags (ARCHITECTURE §2).

Precedence, first wins: flags > `FRESHFLEET_*` environment > file > defaults. The file is
`./freshfleet.toml`, else `~/.config/freshfleet/config.toml`. Unknown keys are an error
that names the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollout.judge.verdict import JudgeSettings
from rollout.notify.settings import NotifierSpec, NotifySettingsError, parse_notifiers


class ConfigError(ValueError):
    """The configuration is invalid; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class Tables:
    """DynamoDB table names (ARCHITECTURE §3)."""

    releases: str = "freshfleet-releases"
    rollouts: str = "freshfleet-rollouts"
    locks: str = "freshfleet-locks"
    instances: str = "freshfleet-instances"

    @classmethod
    def with_prefix(cls, prefix: str) -> Tables:
        return cls(
            releases=f"{prefix}releases",
            rollouts=f"{prefix}rollouts",
            locks=f"{prefix}locks",
            instances=f"{prefix}instances",
        )


@dataclass(frozen=True, slots=True)
class RolloutSettings:
    """Timers and shares of the rollout strategies (ARCHITECTURE §4)."""

    bake_seconds: float = 600.0
    gate_deadline_seconds: float = 900.0
    canary_share_percent: int = 10
    canary_watch_seconds: float = 120.0
    rolling_batch_percent: int = 25
    poll_seconds: float = 2.0
    # A watch rolls back on a shortfall of healthy targets seen this many readings in a row
    # (a target that blinks for one poll is no reason to flip a fleet back).
    shortfall_polls: int = 3
    lock_lease_seconds: float = 60.0
    lock_heartbeat_seconds: float = 20.0


@dataclass(frozen=True, slots=True)
class LocalAwsTimers:
    """localaws's clock (docs/ARCHITECTURE.md §7): every AWS timing it plays (health checks,
    draining, boots, grace periods) runs `time_scale` times as long, so AWS's ratios hold."""

    time_scale: float = 0.1  # the demo's pace; 1.0 is AWS's own
    pending_seconds: float = 10.0  # AWS seconds a simulated instance stays pending
    phase_seconds: float = 5.0  # AWS seconds per simulated boot phase
    metrics_period_seconds: float = 60.0  # AWS seconds between ALB metric publications
    traffic_rps: float = 10.0  # demo requests per second per load balancer (--traffic)
    targets_per_alb: int = 1000  # the account's quota, as DescribeAccountLimits says
    # Eventual consistency (docs/ARCHITECTURE.md §7): how long (AWS seconds, under the time
    # scale) a new resource is unknown to the calls AWS documents answering NotFound for it.
    instance_not_found_seconds: float = 2.0  # DescribeInstances/-InstanceStatus by id
    target_group_not_found_seconds: float = 1.0  # ModifyTargetGroupAttributes
    security_group_not_found_seconds: float = 1.0  # AuthorizeSecurityGroupIngress
    # AWS's request token buckets (ELB Describe*, EC2 non-mutating), refilled at AWS's rates
    # under the time scale; off for fleet seeding.
    throttling: bool = True
    # The share of a BatchGetItem's keys answered as UnprocessedKeys (0 = never).
    batch_get_unprocessed_share: float = 0.0
    # Wall seconds (never scaled) a connection to any localaws server has to send a request
    # head, and an idle keep-alive connection stays open (localaws/http_server.py).
    header_timeout_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration, immutable once loaded."""

    tables: Tables = field(default_factory=Tables)
    production_accounts: tuple[str, ...] = ()
    rollout: RolloutSettings = field(default_factory=RolloutSettings)
    localaws: LocalAwsTimers = field(default_factory=LocalAwsTimers)
    keymap: Mapping[str, str] = field(default_factory=dict)  # binding id -> keys
    theme: str = ""
    notify: tuple[NotifierSpec, ...] = ()  # the `[[notify]]` tables (rollout/notify/)
    judge: JudgeSettings = field(default_factory=JudgeSettings)
    alarms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # app -> alarm names
    source: str = "defaults"  # the file it came from, for messages

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


# The demo's settings: a bake of 30 s and short timers (ARCHITECTURE §7).
# The canary watch is long enough for the demo's traffic to give the judge its evidence.
DEMO_ROLLOUT = RolloutSettings(
    bake_seconds=30.0, gate_deadline_seconds=120.0, canary_watch_seconds=30.0, poll_seconds=1.0
)

# The demo judges on a second's period (localaws publishes every second) and fewer requests,
# and its latency on the p90: the demo's ten requests a second reach the 50 a p90 needs in a
# few seconds, the 500 of a p99 only after most of a minute.
DEMO_JUDGE = JudgeSettings(
    min_requests=20, period_seconds=1, look_seconds=1.0, latency_percentile=90.0
)

_SECTIONS: dict[str, type[Any]] = {
    "rollout": RolloutSettings,
    "localaws": LocalAwsTimers,
    "judge": JudgeSettings,
}


def config_paths(cwd: Path | None = None) -> list[Path]:
    """The files searched, in order; the first that exists is used."""
    home = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return [(cwd or Path.cwd()) / "freshfleet.toml", home / "freshfleet" / "config.toml"]


def load_config(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    demo: bool = False,
) -> Config:
    """Load the configuration with flags > environment > file > defaults.

    `path` forces a file (missing is then an error); otherwise the first of
    `config_paths()` that exists is read. `overrides` are flag values as dotted keys
    (`{"rollout.bake_seconds": 5}`); `None` values are ignored so argparse defaults pass
    through. Raises ConfigError naming the file and key on any unknown key or bad value.
    """
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file")
        candidates = [path]
    else:
        candidates = [p for p in config_paths() if p.is_file()]
    if candidates:
        source = str(candidates[0])
        try:
            data = tomllib.loads(candidates[0].read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: {exc}") from exc

    flat = _flatten(data, source)
    from_env = _from_env(os.environ if env is None else env)
    flags = {k: v for k, v in (overrides or {}).items() if v is not None}
    flat.update(from_env)
    flat.update(flags)
    # A bad value is blamed on where it came from: the variable, the flag, else the file.
    origins = {k: "FRESHFLEET_" + k.replace(".", "__").upper() for k in from_env}
    origins.update({k: f"the command line ({k})" for k in flags})
    return _build(
        flat,
        source,
        DEMO_ROLLOUT if demo else RolloutSettings(),
        DEMO_JUDGE if demo else JudgeSettings(),
        origins,
    )


def _flatten(data: Mapping[str, Any], source: str, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and dotted not in ("keymap",):
            flat.update(_flatten(value, source, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """Configuration from the environment: `FRESHFLEET_<SECTION>__<KEY>` and a few top keys.

    `FRESHFLEET_ROLLOUT__BAKE_SECONDS=5` -> `rollout.bake_seconds`; `FRESHFLEET_TABLES__PREFIX`;
    `FRESHFLEET_PRODUCTION_ACCOUNTS`, `FRESHFLEET_THEME`. Other `FRESHFLEET_*` names belong to
    the boot agent and the tools (`FRESHFLEET_APP`, `FRESHFLEET_ENDPOINT_FILE`, …) and are not
    configuration; a misspelt sectioned name (`FRESHFLEET_ROLLOUT__BAKE`) is still an error.
    """
    out: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith("FRESHFLEET_"):
            continue
        key = name.removeprefix("FRESHFLEET_").lower()
        if "__" in key or key in _TOP_LEVEL_ENV:
            out[key.replace("__", ".")] = value
    return out


_TOP_LEVEL_ENV = frozenset({"production_accounts", "theme"})


def _build(
    flat: Mapping[str, Any],
    file_source: str,
    rollout_base: RolloutSettings,
    judge_base: JudgeSettings,
    origins: Mapping[str, str] | None = None,
) -> Config:
    sections: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    tables: dict[str, str] = {}
    prefix: str | None = None
    top: dict[str, Any] = {}
    alarms: dict[str, tuple[str, ...]] = {}
    for key, value in flat.items():
        source = (origins or {}).get(key, file_source)
        head, _, rest = key.partition(".")
        if head == "judge" and rest.startswith("alarms."):
            names = value.split(",") if isinstance(value, str) else value
            if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
                raise ConfigError(f"{source}: '{key}' must be a list of alarm names")
            alarms[rest.removeprefix("alarms.")] = tuple(n.strip() for n in names if n.strip())
        elif head in _SECTIONS and rest:
            cls = _SECTIONS[head]
            names = {f.name: f for f in dataclasses.fields(cls)}
            if rest not in names:
                raise ConfigError(f"{source}: unknown key '{key}'")
            sections[head][rest] = _coerce(value, names[rest].type, key, source)
        elif head == "tables" and rest:
            if rest == "prefix":
                prefix = str(value)
            elif rest in {f.name for f in dataclasses.fields(Tables)}:
                tables[rest] = str(value)
            else:
                raise ConfigError(f"{source}: unknown key '{key}'")
        elif key == "keymap":
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: 'keymap' must be a table of binding id = keys")
            top["keymap"] = {str(k): str(v) for k, v in value.items()}
        elif key.startswith("keymap."):
            top.setdefault("keymap", {})[rest] = str(value)
        elif key == "production_accounts":
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list | tuple):
                raise ConfigError(f"{source}: 'production_accounts' must be a list of account ids")
            top["production_accounts"] = tuple(str(i).strip() for i in items if str(i).strip())
        elif key == "theme":
            top["theme"] = str(value)
        elif key == "notify":
            try:
                top["notify"] = parse_notifiers(value, source)
            except NotifySettingsError as exc:
                raise ConfigError(str(exc)) from None
        else:
            raise ConfigError(f"{source}: unknown key '{key}'")
    if float(sections["localaws"].get("time_scale", 1.0)) <= 0:
        where = (origins or {}).get("localaws.time_scale", file_source)
        raise ConfigError(f"{where}: 'localaws.time_scale' must be above 0")
    base = Tables.with_prefix(prefix) if prefix is not None else Tables()
    return Config(
        tables=dataclasses.replace(base, **tables),
        rollout=dataclasses.replace(rollout_base, **sections["rollout"]),
        localaws=LocalAwsTimers(**sections["localaws"]),
        judge=dataclasses.replace(judge_base, **sections["judge"]),
        alarms=alarms,
        source=file_source,
        **top,
    )


def _coerce(value: Any, annotation: Any, key: str, source: str) -> Any:
    kind = (
        annotation
        if isinstance(annotation, type)
        else {"float": float, "int": int, "bool": bool}.get(str(annotation), str)
    )
    if kind is bool:
        return _boolean(value, key, source)
    try:
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: '{key}' must be {kind.__name__}, got {value!r}") from None


def _boolean(value: Any, key: str, source: str) -> bool:
    """A TOML boolean, or its spelling in the environment (`true`/`false`, `1`/`0`, …)."""
    if isinstance(value, bool):
        return value
    spelled = str(value).strip().lower()
    if spelled in ("true", "1", "yes", "on"):
        return True
    if spelled in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"{source}: '{key}' must be true or false, got {value!r}")
