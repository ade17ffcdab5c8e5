"""The user data of a server group: a small `#cloud-config` (ARCHITECTURE §6).

It writes `/etc/freshfleet/release.env` and starts `freshfleet-boot.service` from the base
image. The env file travels base64-encoded (`encoding: b64`), so no value can change the
YAML's meaning; the values themselves are validated against narrow character sets, so none
can change the env file's meaning either (no quotes, `$`, `;`, backticks, spaces or newlines).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from rollout.model import Release

USER_DATA_LIMIT = 16 * 1024  # EC2's limit on user data, before base64
HEALTH_PATH_LIMIT = 1024  # ELB's limit on a target group's HealthCheckPath
ENV_PATH = "/etc/freshfleet/release.env"
UNIT = "freshfleet-boot.service"

_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
_APP = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# RFC 3986 unreserved + the reserved characters a URL path or query needs, minus every
# character a shell or an env file gives meaning to (' " ` $ ; & | < > \ space, newline).
_URL = re.compile(r"^[A-Za-z0-9._~:/?#\[\]@!*+,=%-]+$")
_HEALTH_PATH = re.compile(r"^/[A-Za-z0-9._~/%-]*$")
_TOKEN = re.compile(r"^[A-Za-z0-9._:/=+,-]*$")


class UserDataError(ValueError):
    """The release or its rendering cannot be made into safe user data; says which value."""


@dataclass(frozen=True, slots=True)
class UserDataContext:
    """Per-rollout values that go into the env file beside the release's own."""

    rollout_id: str
    region: str
    instances_table: str = ""
    ssm_path: str = ""
    allow_insecure_url: bool = False
    simulate: str = ""  # localaws only: encode_simulate(release.simulate)
    # The agent's health deadline (FRESHFLEET_HEALTH_TIMEOUT), below the gate deadline:
    # rollout.deploy.health_settings.agent_health_seconds; 0 leaves the agent's default.
    health_timeout_seconds: float = 0.0


def validate_release(release: Release, *, allow_insecure_url: bool = False) -> None:
    """Raise UserDataError naming the first value that could change the user data's meaning."""
    if not _APP.fullmatch(release.app):
        raise UserDataError(f"app name {release.app!r} must be lower-case letters, digits, '-'")
    if not _VERSION.fullmatch(release.version):
        raise UserDataError(
            f"version {release.version!r} may only hold letters, digits and . _ + - "
            "(no quotes, '$(', ';', spaces or newlines)"
        )
    if not _SHA256.fullmatch(release.sha256 or ""):
        raise UserDataError(
            f"sha256 of {release.app} {release.version} must be 64 lower-case hex digits"
        )
    validate_url(release.url, allow_insecure_url=allow_insecure_url)
    if not _HEALTH_PATH.fullmatch(release.health_path):
        raise UserDataError(f"health path {release.health_path!r} must be a plain URL path")
    if len(release.health_path) > HEALTH_PATH_LIMIT:
        raise UserDataError(
            f"health path of {len(release.health_path)} characters is over ELB's "
            f"{HEALTH_PATH_LIMIT}-character limit"
        )
    if not 1 <= int(release.port) <= 65535:
        raise UserDataError(f"port {release.port} is not a TCP port")
    timeout = release.health_timeout_seconds
    if timeout is not None and not 0 < timeout < 86400:
        raise UserDataError(f"health timeout {timeout:g} s must be above 0 and below a day")


def redact_url(url: str) -> str:
    """The URL with any `user:password@` replaced by `***@`, for messages and listings."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()


def is_loopback_host(host: str | None) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1), compared as
    addresses: `127.0.0.1.evil.example` is a name anyone may point anywhere, not loopback."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_url(url: str, *, allow_insecure_url: bool = False) -> None:
    """https:// or s3:// only (http:// to loopback, or with allow_insecure_url), safe
    characters, no credentials (`user:password@`: they would be stored and shown)."""
    if not url or not _URL.fullmatch(url):
        raise UserDataError(
            f"release URL {redact_url(url)!r} holds characters that are not allowed"
        )
    parts = urlsplit(url)
    if "@" in parts.netloc:
        raise UserDataError(
            f"release URL {redact_url(url)} carries credentials: they would be stored in the "
            "releases table and shown in listings; use s3:// or a presigned-free https:// URL"
        )
    scheme = parts.scheme
    # Loopback http cannot be intercepted on the network: a local release server is fine.
    loopback = is_loopback_host(parts.hostname)
    allowed = {"https", "s3"} | ({"http"} if allow_insecure_url or loopback else set())
    if scheme not in allowed:
        hint = " (pass --allow-insecure-url for http://)" if scheme == "http" else ""
        raise UserDataError(f"release URL scheme {scheme or '(none)'}:// is not allowed{hint}")


def release_env(release: Release, ctx: UserDataContext) -> dict[str, str]:
    """The env file's keys and values (ARCHITECTURE §6), validated."""
    validate_release(release, allow_insecure_url=ctx.allow_insecure_url)
    env = {
        "FRESHFLEET_APP": release.app,
        "FRESHFLEET_VERSION": release.version,
        "FRESHFLEET_ROLLOUT": ctx.rollout_id,
        "RELEASE_URL": release.url,
        "RELEASE_SHA256": release.sha256,
        "APP_PORT": str(int(release.port)),
        "HEALTH_PATH": release.health_path,
        "AWS_REGION": ctx.region,
    }
    if ctx.ssm_path:
        env["SSM_PATH"] = ctx.ssm_path
    if ctx.instances_table:
        env["INSTANCES_TABLE"] = ctx.instances_table
    if ctx.health_timeout_seconds > 0:
        env["FRESHFLEET_HEALTH_TIMEOUT"] = f"{ctx.health_timeout_seconds:g}"
    if ctx.simulate:
        env["FRESHFLEET_SIMULATE"] = ctx.simulate
    for key, value in env.items():
        if key not in ("RELEASE_URL",) and not _TOKEN.fullmatch(value):
            raise UserDataError(f"{key} value {value!r} holds characters that are not allowed")
    return env


def render_env_file(env: Mapping[str, str]) -> str:
    return "".join(f"{k}={v}\n" for k, v in env.items())


def render_user_data(release: Release, ctx: UserDataContext) -> str:
    """The `#cloud-config` user data for one server group; raises UserDataError if invalid."""
    env_b64 = base64.b64encode(render_env_file(release_env(release, ctx)).encode()).decode()
    text = (
        "#cloud-config\n"
        "# freshfleet: written by the engine for one server group; see ARCHITECTURE §6.\n"
        "write_files:\n"
        f"  - path: {ENV_PATH}\n"
        "    owner: root:root\n"
        "    permissions: '0644'\n"
        "    encoding: b64\n"
        f"    content: {env_b64}\n"
        "runcmd:\n"
        f"  - [systemctl, start, --no-block, {UNIT}]\n"
    )
    size = len(text.encode())
    if size > USER_DATA_LIMIT:
        raise UserDataError(f"user data is {size} bytes, over EC2's {USER_DATA_LIMIT}-byte limit")
    return text


_CONTENT = re.compile(r"^\s+content:\s*(\S+)\s*$", re.MULTILINE)


def parse_release_env(user_data: str) -> dict[str, str]:
    """Read the env file back out of rendered user data (what cloud-init would write).

    Returns {} when the user data is not freshfleet's.
    """
    if not user_data.startswith("#cloud-config") or ENV_PATH not in user_data:
        return {}
    match = _CONTENT.search(user_data)
    if not match:
        return {}
    try:
        text = base64.b64decode(match.group(1), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return {}
    return parse_env_file(text)


def parse_env_file(text: str) -> dict[str, str]:
    """KEY=value lines (the env file's format) into a dict; other lines are ignored."""
    env: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.lstrip().startswith("#"):
            env[key.strip()] = value
    return env


def encode_simulate(simulate: Mapping[str, object] | None) -> str:
    """A release's `simulate` field as one env value: `fail=build,crash_after=10`."""
    return ",".join(f"{k}={v}" for k, v in sorted((simulate or {}).items()))


def decode_simulate(value: str) -> dict[str, str]:
    """The inverse of encode_simulate (values stay strings)."""
    out: dict[str, str] = {}
    for item in filter(None, value.split(",")):
        key, _, val = item.partition("=")
        out[key] = val
    return out
