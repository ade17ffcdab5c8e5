"""From an empty VPC to a serving app: setup, init, release add --file, deploy --capacity 2."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from doctor.conftest import IMAGE_ID
from localaws.process import LocalAws

Cli = Callable[..., int]


def _tarball(path: Path) -> Path:
    dockerfile = b"FROM scratch\n"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    return path


def test_init_on_an_empty_vpc_makes_an_app_that_deploys_and_doctor_is_green(
    freshfleet: Cli,
    empty_localaws: LocalAws,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = empty_localaws.url
    assert freshfleet(url, "setup") == 0
    assert freshfleet(url, "init", "shop", "--image-id", IMAGE_ID, "-y") == 0
    tarball = _tarball(tmp_path / "shop-v1.tar.gz")
    assert freshfleet(url, "release", "add", "shop", "v1", "--file", str(tarball)) == 0
    capsys.readouterr()

    assert freshfleet(url, "deploy", "shop", "v1", "--capacity", "2", "--bake", "1", "-y") == 0
    assert "succeeded" in capsys.readouterr().out

    assert freshfleet(url, "doctor", "--app", "shop", "--json") == 0
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["server groups"]["verdict"] == "ok"
    assert "v1, desired 2" in checks["server groups"]["detail"]
    assert checks["target group"]["detail"].endswith("2 of 2 targets healthy")
    assert checks["release URL"]["verdict"] == "ok"  # the s3:// object `release add` put
    assert checks["app answers"]["verdict"] == "ok", checks["app answers"]
