"""What the agent is told: the release's env file, and where it may write.

The env file (`/etc/freshfleet/release.env`, written by cloud-init from the user data)
carries the release; the process environment carries only the agent's own knobs, so that
localaws and tests can run the agent unprivileged in a directory of their own:

| variable | default | what |
|---|---|---|
| `FRESHFLEET_ENV_FILE` | `/etc/freshfleet/release.env` | the release's env file |
| `FRESHFLEET_STATE_DIR` | `/var/lib/freshfleet` | the "deployed" marker |
| `FRESHFLEET_WORK_DIR` | `/var/cache/freshfleet` | download and build context |
| `FRESHFLEET_IMDS_ENDPOINT` | `http://169.254.169.254` | IMDSv2; `off` skips it |
| `FRESHFLEET_INSTANCE_ID` | (from IMDS, else the host name) | identity where IMDS is absent |
| `FRESHFLEET_ACCOUNT_ID` | (from IMDS) | the account of the release bucket and the report's key |
| `FRESHFLEET_BASE_IMAGE` | `freshfleet-base:bookworm` | the release's `BASE_IMAGE` build arg |
| `FRESHFLEET_HOST_PORT` | `APP_PORT` | the host port the container's port is published on |
| `FRESHFLEET_HOST_BIND` | `0.0.0.0` | the address it is published on |
| `FRESHFLEET_CONTAINER_NAME` | `freshfleet-<app>` | the container's name |
| `FRESHFLEET_CONTAINER_LABELS` | (none) | extra labels, `key=value,key=value` |
| `FRESHFLEET_HEALTH_TIMEOUT` | `180` | seconds the health phase waits for a 2xx (the rollout's) |
| `FRESHFLEET_FETCH_TIMEOUT` | `30` | seconds per fetch attempt without progress |
| `FRESHFLEET_FETCH_ATTEMPTS` | `4` | fetch attempts before the phase fails |
| `FRESHFLEET_FETCH_DEADLINE` | `900` | seconds the whole fetch phase may take, retries included |
| `FRESHFLEET_MAX_RELEASE_BYTES` | 512 MiB | largest download, and largest extracted tree |
| `AWS_ENDPOINT_URL` | (AWS) | where DynamoDB, SSM and S3 calls go |

Env-file values win over process-environment values of the same name, as systemd's
`EnvironmentFile=` would have them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .health import DEFAULT_TIMEOUT_SECONDS as DEFAULT_HEALTH_TIMEOUT

ENV_FILE = "/etc/freshfleet/release.env"
RELEASE_KEYS = (
    "FRESHFLEET_APP",
    "FRESHFLEET_VERSION",
    "RELEASE_URL",
    "RELEASE_SHA256",
    "APP_PORT",
)


class SettingsError(ValueError):
    """The env file is missing or lacks a key the agent needs; says which."""


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines into a dict; blank lines and `#` comments are ignored."""
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        key = key.strip()
        if sep and key and not key.startswith("#"):
            env[key] = value.strip()
    return env


@dataclass(frozen=True)
class AgentSettings:
    """Everything one boot needs, read once at start."""

    app: str
    version: str
    rollout: str
    url: str
    sha256: str
    port: int
    health_path: str
    region: str
    ssm_path: str
    instances_table: str
    state_dir: Path
    work_dir: Path
    imds_endpoint: str
    instance_id: str
    account_id: str
    base_image: str
    host_port: int
    host_bind: str
    container_name: str
    extra_labels: dict[str, str]
    health_timeout: float
    fetch_timeout: float
    fetch_attempts: int
    fetch_deadline: float
    max_release_bytes: int
    aws_endpoint_url: str

    @property
    def image_tag(self) -> str:
        return f"freshfleet/{self.app}:{self.version}"

    @property
    def marker_path(self) -> Path:
        return self.state_dir / "deployed"


def load_settings(environ: Mapping[str, str] | None = None) -> AgentSettings:
    """Read the env file named by FRESHFLEET_ENV_FILE; SettingsError names what is missing."""
    environ = os.environ if environ is None else environ
    env_file = Path(environ.get("FRESHFLEET_ENV_FILE", ENV_FILE))
    try:
        release = read_env_file(env_file)
    except OSError as exc:
        raise SettingsError(f"cannot read {env_file}: {exc.strerror or exc}") from exc
    env = {**environ, **release}
    missing = [k for k in RELEASE_KEYS if not env.get(k)]
    if missing:
        raise SettingsError(f"{env_file} lacks {', '.join(missing)}")

    def number(key: str, default: str) -> float:
        raw = env.get(key) or default
        try:
            return float(raw)
        except ValueError as exc:
            raise SettingsError(f"{key}={raw!r} is not a number") from exc

    app = env["FRESHFLEET_APP"]
    port = int(number("APP_PORT", "0"))
    if not 1 <= port <= 65535:
        raise SettingsError(f"APP_PORT={port} is not a TCP port")
    return AgentSettings(
        app=env["FRESHFLEET_APP"],
        version=env["FRESHFLEET_VERSION"],
        rollout=env.get("FRESHFLEET_ROLLOUT", ""),
        url=env["RELEASE_URL"],
        sha256=env["RELEASE_SHA256"].lower(),
        port=port,
        health_path=env.get("HEALTH_PATH") or "/health",
        region=env.get("AWS_REGION", ""),
        ssm_path=env.get("SSM_PATH", ""),
        instances_table=env.get("INSTANCES_TABLE", ""),
        state_dir=Path(env.get("FRESHFLEET_STATE_DIR") or "/var/lib/freshfleet"),
        work_dir=Path(env.get("FRESHFLEET_WORK_DIR") or "/var/cache/freshfleet"),
        imds_endpoint=env.get("FRESHFLEET_IMDS_ENDPOINT") or "http://169.254.169.254",
        instance_id=env.get("FRESHFLEET_INSTANCE_ID", ""),
        account_id=env.get("FRESHFLEET_ACCOUNT_ID", ""),
        base_image=env.get("FRESHFLEET_BASE_IMAGE") or "freshfleet-base:bookworm",
        host_port=int(number("FRESHFLEET_HOST_PORT", str(port))),
        host_bind=env.get("FRESHFLEET_HOST_BIND") or "0.0.0.0",
        container_name=env.get("FRESHFLEET_CONTAINER_NAME") or f"freshfleet-{app}",
        extra_labels=dict(
            item.partition("=")[::2]
            for item in env.get("FRESHFLEET_CONTAINER_LABELS", "").split(",")
            if "=" in item
        ),
        health_timeout=number("FRESHFLEET_HEALTH_TIMEOUT", f"{DEFAULT_HEALTH_TIMEOUT:g}"),
        fetch_timeout=number("FRESHFLEET_FETCH_TIMEOUT", "30"),
        fetch_attempts=max(1, int(number("FRESHFLEET_FETCH_ATTEMPTS", "4"))),
        fetch_deadline=number("FRESHFLEET_FETCH_DEADLINE", "900"),
        max_release_bytes=int(number("FRESHFLEET_MAX_RELEASE_BYTES", str(512 * 1024 * 1024))),
        aws_endpoint_url=env.get("AWS_ENDPOINT_URL", ""),
    )
