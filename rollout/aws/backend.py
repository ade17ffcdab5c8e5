"""Which AWS to talk to (ARCHITECTURE §2): endpoint URL, real AWS, or a running localaws.

First match wins: `--endpoint-url`; `--profile`/`--region`/`--aws` (real AWS); the endpoint
file of a running localaws. Only the console may then start an embedded localaws; the
headless commands say how to. localaws is just an endpoint URL to the engine.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_REGION = "us-east-1"
LOCAL_LABEL = "LOCAL SANDBOX"


class NoBackendError(RuntimeError):
    """No backend was named and no localaws is running."""


@dataclass(frozen=True, slots=True)
class Backend:
    """Where every client of a session points."""

    endpoint_url: str | None = None
    profile: str | None = None
    region: str | None = None
    local: bool = False  # a localaws (from its endpoint file or started by the console)
    boot_mode: str = ""  # localaws only: real|simulated
    boot_reason: str = ""  # localaws only: why that mode
    # How many times as long AWS's own times run here (localaws's `time_scale`; AWS: 1.0).
    # None: not said; `time_scale(backend)` then asks the running localaws's endpoint file.
    time_scale: float | None = None

    @property
    def boots(self) -> str:
        """`real boots` or `simulated boots: why` on a localaws; "" elsewhere."""
        if not self.local or not self.boot_mode:
            return ""
        why = f": {self.boot_reason}" if self.boot_reason and self.boot_mode != "real" else ""
        return f"{self.boot_mode} boots{why}"

    @property
    def label(self) -> str:
        """LOCAL SANDBOX for localaws; otherwise the endpoint or profile and region."""
        if self.local:
            return LOCAL_LABEL
        where = self.endpoint_url or (f"profile {self.profile}" if self.profile else "aws")
        return f"{where} {self.region or ''}".strip()


def endpoint_file_path() -> Path:
    """`$XDG_RUNTIME_DIR/freshfleet/localaws.json`, else `~/.cache/freshfleet/localaws.json`.

    `FRESHFLEET_ENDPOINT_FILE` overrides both (tests run several localaws side by side).
    """
    forced = os.environ.get("FRESHFLEET_ENDPOINT_FILE")
    if forced:
        return Path(forced)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) if runtime else Path.home() / ".cache"
    return base / "freshfleet" / "localaws.json"


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists (signal 0 probes without touching it)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_endpoint_file(path: Path | None = None) -> dict[str, Any] | None:
    """The running localaws's record, or None when absent, unreadable, or stale (dead pid)."""
    path = path or endpoint_file_path()
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not pid_alive(int(record.get("pid", 0))):
        return None
    return record


def write_endpoint_file(record: dict[str, Any], path: Path | None = None) -> Path:
    """Write the endpoint file atomically, readable by its owner only (mode 0600: it says
    where a local AWS answers with whatever credentials); returns its path."""
    path = path or endpoint_file_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(record, indent=2))
    tmp.replace(path)
    return path


def remove_endpoint_file(pid: int, path: Path | None = None) -> None:
    """Remove the endpoint file only if it is still the one this pid wrote."""
    path = path or endpoint_file_path()
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    if isinstance(record, dict) and record.get("pid") == pid:
        path.unlink(missing_ok=True)


def local_backend(record: dict[str, Any]) -> Backend:
    return Backend(
        endpoint_url=str(record["url"]),
        region=str(record.get("region") or DEFAULT_REGION),
        local=True,
        boot_mode=str(record.get("boot_mode", "")),
        boot_reason=str(record.get("boot_reason", "")),
        time_scale=_record_scale(record),
    )


def _record_scale(record: dict[str, Any]) -> float:
    try:
        scale = float(record.get("time_scale", 1.0))
    except (TypeError, ValueError):
        return 1.0
    return scale if scale > 0 else 1.0


def time_scale(backend: Backend) -> float:
    """How many times as long AWS's own times run on `backend` (docs/ARCHITECTURE.md §2):
    its `time_scale` when set; else, for a local backend that is the running localaws (its
    endpoint file names its URL), the scale that file records; else 1.0, AWS's own pace.

    AWS-side durations (grace periods, health-check intervals) are in the backend's seconds;
    the engine measures wall seconds: `backend_seconds(backend, wall)` converts."""
    if backend.time_scale is not None and backend.time_scale > 0:
        return float(backend.time_scale)
    if not backend.local or not backend.endpoint_url:
        return 1.0
    record = read_endpoint_file()
    if record is None or record.get("url") != backend.endpoint_url:
        return 1.0
    return _record_scale(record)


def backend_seconds(backend: Backend, wall_seconds: float) -> float:
    """The backend's own seconds for `wall_seconds` measured by the engine's clock (a boot,
    a gate deadline): `wall_seconds / time_scale(backend)`; the same number on AWS."""
    return float(wall_seconds) / time_scale(backend)


def discover_backend(
    *,
    endpoint_url: str | None = None,
    profile: str | None = None,
    region: str | None = None,
    aws: bool = False,
) -> Backend | None:
    """Apply ARCHITECTURE §2's order; None means "nothing named and no localaws running".

    An endpoint URL that is a running localaws's URL is marked local, so the faces show
    LOCAL SANDBOX whichever way it was reached.
    """
    record = read_endpoint_file()
    if endpoint_url:
        is_local = record is not None and record.get("url") == endpoint_url
        return Backend(
            endpoint_url=endpoint_url,
            profile=profile,
            region=region
            or (str(record.get("region")) if is_local and record else None)
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or DEFAULT_REGION,
            local=is_local,
            boot_mode=str(record.get("boot_mode", "")) if is_local and record else "",
            boot_reason=str(record.get("boot_reason", "")) if is_local and record else "",
            time_scale=_record_scale(record) if is_local and record else None,
        )
    if profile or region or aws:
        return Backend(profile=profile, region=region)
    if record is not None:
        return local_backend(record)
    return None


def require_backend(**flags: Any) -> Backend:
    """discover_backend for headless commands: raise with how to start one when none."""
    backend = discover_backend(**flags)
    if backend is None:
        raise NoBackendError(
            "no AWS backend: pass --endpoint-url URL, or --profile/--region/--aws for real AWS, "
            "or start the local sandbox with `freshfleet localaws` (or open `freshfleet`)"
        )
    return backend
