"""The agent under Debian 12's own Python 3.11.2 (the release base image's, which lacks
tarfile's `filter="data"`): fetch, verify and the checked extraction fallback hold there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import bootscript
from bootscript.agent.boot import EXIT_CODES

pytestmark = pytest.mark.docker
SOURCE = Path(bootscript.__file__).resolve().parent


def run_in_base_image(docker_client: Any, base_image: str, work: Path, url: str, sha: str) -> Any:
    (work / "release.env").write_text(
        "FRESHFLEET_APP=demo-web\nFRESHFLEET_VERSION=fault\n"
        f"RELEASE_URL={url}\nRELEASE_SHA256={sha}\nAPP_PORT=8080\n"
    )
    container = docker_client.containers.run(
        base_image,
        ["python3", "-m", "bootscript.agent"],
        detach=True,
        network_mode="host",  # the release server listens on the host's loopback
        volumes={
            str(SOURCE): {"bind": "/opt/freshfleet/lib/bootscript", "mode": "ro"},
            str(work): {"bind": "/work", "mode": "rw"},
        },
        environment={
            "PYTHONPATH": "/opt/freshfleet/lib",
            "PYTHONDONTWRITEBYTECODE": "1",
            "FRESHFLEET_ENV_FILE": "/work/release.env",
            "FRESHFLEET_STATE_DIR": "/work/state",
            "FRESHFLEET_WORK_DIR": "/work/cache",
            "FRESHFLEET_IMDS_ENDPOINT": "off",
        },
    )
    try:
        code = container.wait(timeout=120)["StatusCode"]
        out = container.logs(stdout=True, stderr=False).decode()
        err = container.logs(stdout=False, stderr=True).decode()
        return code, out, err
    finally:
        container.remove(force=True)


@pytest.mark.parametrize(
    ("release", "phase", "reason"),
    [
        ("symlink-out", "extract", "leaves the tree"),
        ("v1", "build", "No module named 'docker'"),  # everything before build passed
    ],
)
def test_the_agent_runs_on_debian_python_3_11_2(
    release: str,
    phase: str,
    reason: str,
    base_image: str,
    docker_client: Any,
    release_server: Any,
    tmp_path: Path,
) -> None:
    version = docker_client.containers.run(
        base_image,
        [
            "python3",
            "-c",
            "import sys, tarfile; print(sys.version_info[:3], hasattr(tarfile, 'data_filter'))",
        ],
        remove=True,
    ).decode()
    url, sha = release_server.publish(release)
    code, out, err = run_in_base_image(docker_client, base_image, tmp_path, url, sha)
    assert code == EXIT_CODES[phase], f"{version}\n{out}\n{err}"
    last = out.splitlines()[-1]
    assert last.split()[2:4] == [phase, "fail"] and reason in last, out
    assert not list(tmp_path.rglob("host-passwd"))  # refused before anything was written
