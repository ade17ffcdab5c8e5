"""Backend discovery (ARCHITECTURE §2): flags first, then a running localaws, never a stale one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rollout.aws.backend import (
    LOCAL_LABEL,
    Backend,
    NoBackendError,
    backend_seconds,
    discover_backend,
    endpoint_file_path,
    read_endpoint_file,
    remove_endpoint_file,
    require_backend,
    time_scale,
    write_endpoint_file,
)


@pytest.fixture
def endpoint_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "localaws.json"
    monkeypatch.setenv("FRESHFLEET_ENDPOINT_FILE", str(path))
    return path


def test_default_path_prefers_runtime_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRESHFLEET_ENDPOINT_FILE", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    assert endpoint_file_path() == Path("/run/user/1000/freshfleet/localaws.json")
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert endpoint_file_path() == Path.home() / ".cache/freshfleet/localaws.json"


def test_running_localaws_is_found_and_labelled(endpoint_file: Path) -> None:
    write_endpoint_file({"url": "http://127.0.0.1:4599", "pid": os.getpid(), "region": "eu-west-1"})
    backend = discover_backend()
    assert backend is not None and backend.local
    assert backend.endpoint_url == "http://127.0.0.1:4599"
    assert backend.region == "eu-west-1"
    assert backend.label == LOCAL_LABEL


def test_stale_endpoint_file_is_ignored(endpoint_file: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_endpoint_file({"url": "http://127.0.0.1:4599", "pid": dead.pid})
    assert read_endpoint_file() is None
    assert discover_backend() is None
    with pytest.raises(NoBackendError, match="freshfleet localaws"):
        require_backend()


def test_flags_win_over_a_running_localaws(endpoint_file: Path) -> None:
    write_endpoint_file({"url": "http://127.0.0.1:4599", "pid": os.getpid()})
    explicit = discover_backend(endpoint_url="http://127.0.0.1:9999")
    assert explicit is not None and not explicit.local
    real = discover_backend(profile="prod", region="eu-central-1")
    assert real is not None and real.endpoint_url is None and real.profile == "prod"
    same = discover_backend(endpoint_url="http://127.0.0.1:4599")
    assert same is not None and same.local


def test_remove_only_own_file(endpoint_file: Path) -> None:
    write_endpoint_file({"url": "http://x", "pid": os.getpid()})
    remove_endpoint_file(os.getpid() + 1)
    assert endpoint_file.exists()
    remove_endpoint_file(os.getpid())
    assert not endpoint_file.exists()


def test_the_endpoint_file_is_readable_by_its_owner_only(endpoint_file: Path) -> None:
    previous = os.umask(0)  # even where the umask would let anyone read it
    try:
        path = write_endpoint_file({"url": "http://127.0.0.1:4599", "pid": os.getpid()})
        assert path.stat().st_mode & 0o777 == 0o600
        path.chmod(0o644)  # a file written by an older version: replaced, not reused
        write_endpoint_file({"url": "http://127.0.0.1:4600", "pid": os.getpid()})
        assert path.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(previous)


def test_a_running_localaws_writes_its_endpoint_file_for_its_owner_only(localaws: Any) -> None:
    assert localaws.endpoint_file.stat().st_mode & 0o777 == 0o600


def test_a_localaws_says_its_time_scale_and_aws_runs_at_its_own_pace(endpoint_file: Path) -> None:
    """The engine converts the wall seconds it measures into the backend's own seconds:
    a localaws records its scale in its endpoint file; AWS (and any endpoint that is not the
    running localaws) is 1.0."""
    url = "http://127.0.0.1:4599"
    write_endpoint_file({"url": url, "pid": os.getpid(), "time_scale": 0.1})
    found = discover_backend()
    assert found is not None and time_scale(found) == 0.1
    assert backend_seconds(found, 20.0) == pytest.approx(200.0)
    by_url = discover_backend(endpoint_url=url)
    assert by_url is not None and by_url.time_scale == 0.1
    # Made by hand (the console's embedded sandbox, tests): asked of the endpoint file.
    assert time_scale(Backend(endpoint_url=url, local=True)) == 0.1
    assert time_scale(Backend(endpoint_url="http://127.0.0.1:9", local=True)) == 1.0
    other = discover_backend(endpoint_url="http://127.0.0.1:9")
    assert other is not None and time_scale(other) == 1.0
    aws = discover_backend(aws=True)
    assert aws is not None and time_scale(aws) == 1.0 and backend_seconds(aws, 20.0) == 20.0
