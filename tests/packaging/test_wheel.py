"""A wheel built from the repository works outside the source tree: installed into a fresh
venv, `freshfleet localaws` runs the demo, `status` and `deploy` drive it, and `doctor` finds
the IAM policies the wheel carries (`<prefix>/share/freshfleet/iam`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from localaws.process import start_localaws

ROOT = Path(__file__).resolve().parents[2]


def run(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300):
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{cmd}: {done.stdout}{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel of this tree (its dependencies: this venv's)."""
    base = tmp_path_factory.mktemp("wheel")
    tree = base / "tree"
    listed = run("git", "ls-files", "-co", "--exclude-standard", "-z", cwd=ROOT).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tree / name)
    dist = base / "dist"
    pip = (sys.executable, "-m", "pip")
    run(*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, tree, cwd=base)
    (wheel,) = dist.glob("freshfleet-*.whl")
    venv = base / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=base)
    # The dependencies are this venv's packages, by path: a .pth in an added directory is not
    # run, so this venv's editable hook (the source tree) stays out.
    purelib = Path(
        run(
            venv / "bin" / "python",
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            cwd=base,
        ).stdout.strip()
    )
    (purelib / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", wheel, cwd=base)
    return venv


def test_the_installed_wheel_runs_localaws_status_deploy_and_doctor(
    installed: Path, tmp_path: Path
) -> None:
    bin_ = installed / "bin"
    env = {
        k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("FRESHFLEET_")
    }
    env["FRESHFLEET_ENDPOINT_FILE"] = str(tmp_path / "localaws.json")
    env["FRESHFLEET_LOCALAWS_DIR"] = str(tmp_path / "localaws")
    (tmp_path / "localaws").mkdir()
    where = run(
        bin_ / "python",
        "-c",
        "import console, rollout; print(console.__file__)",
        cwd=tmp_path,
        env=env,
    ).stdout
    assert where.startswith(str(installed)), where  # the wheel's copy, not the source tree
    with start_localaws(
        command=[str(bin_ / "freshfleet"), "localaws"],
        cwd=tmp_path,
        env={**env, "FRESHFLEET_ROLLOUT__BAKE_SECONDS": "1"},
        endpoint_file=env["FRESHFLEET_ENDPOINT_FILE"],
        ready_timeout=120,
    ):
        cli = bin_ / "freshfleet"
        status = run(cli, "status", cwd=tmp_path, env=env).stdout
        assert "demo-web" in status
        fast = {**env, "FRESHFLEET_ROLLOUT__BAKE_SECONDS": "1"}
        deployed = run(cli, "deploy", "demo-web", "v2", "-y", cwd=tmp_path, env=fast).stdout
        assert "succeeded" in deployed
        doctor = subprocess.run(
            [str(cli), "doctor", "--role", "deployer"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        out = doctor.stdout + doctor.stderr
        assert "not installed here" not in out, out
        assert "permissions (deployer)" in out, out
