"""Demo and fault releases: tarballs localaws's release server serves and the tests deploy.

`build_release_tarball(name) -> (bytes, sha256)` builds one from the sources in
`bootscript/releases/demo-web/` (Dockerfile `FROM ${BASE_IMAGE}`, `/health`, `/` answers
the version). Tarballs are deterministic: the same name gives the same bytes and sha256.

Good releases: `v1`, `v2`; `v3` builds and runs but is never healthy; `v4` and `v5` are
healthy but bad on real requests (`v4` answers 500 to about a fifth of them, `v5` is ten
times slower): only a judge of the traffic catches them. Fault releases,
each failing at the phase FAULTS names: `bad-checksum` (the sha256 returned is not the
tarball's), `dotdot` (a `../` member), `absolute-path` (a `/tmp/...` member),
`symlink-out` (a symlink leading out of the tree), `build-fails` (a Dockerfile whose RUN
fails), `crash-after-healthy` (healthy, then exits 10 s later and on every restart).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

SOURCES = Path(__file__).resolve().parent / "demo-web"
APP = "demo-web"
GOOD = ("v1", "v2")
NEVER_HEALTHY = "v3"
# healthy, but worse on real requests: release -> the app's MODE
BAD_ON_TRAFFIC = {"v4": "errors-20", "v5": "slow-10x"}
# fault release → the phase at which the boot agent fails it ("" = boots, then fails later)
FAULTS = {
    "v3": "health",
    "bad-checksum": "verify",
    "dotdot": "extract",
    "absolute-path": "extract",
    "symlink-out": "extract",
    "build-fails": "build",
    "crash-after-healthy": "",
}
RELEASES = (*GOOD, *FAULTS, *BAD_ON_TRAFFIC)
MTIME = 1_700_000_000  # fixed, so tarballs (and their sha256) are reproducible

# The reason is printed by the step, not written in the Dockerfile: the agent must carry
# the build's own output to the console, not just docker's "returned a non-zero code".
_FAILING_STEP = b"""import sys

sys.exit("build-fails: dependency libfreshfleet-demo is missing (a fault release)")
"""
_FAILING_DOCKERFILE = """\
ARG BASE_IMAGE=freshfleet-base:bookworm
FROM ${BASE_IMAGE}
WORKDIR /app
COPY . /app
RUN python3 /app/build_step.py
CMD ["python3", "-u", "/app/app.py"]
"""


def _file(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, MTIME
    tar.addfile(info, io.BytesIO(data))


def _symlink(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mtime = tarfile.SYMTYPE, target, MTIME
    tar.addfile(info)


def release_files(name: str) -> dict[str, bytes]:
    """The regular files of release `name` (path → content)."""
    if name not in RELEASES:
        raise KeyError(f"no demo release {name!r}; known: {', '.join(RELEASES)}")
    modes = {"v3": "never-healthy", "crash-after-healthy": "crash-after-healthy", **BAD_ON_TRAFFIC}
    mode = modes.get(name, "good")
    dockerfile = (SOURCES / "Dockerfile").read_bytes()
    if name == "build-fails":
        dockerfile = _FAILING_DOCKERFILE.encode()
    extra = {"build_step.py": _FAILING_STEP} if name == "build-fails" else {}
    return {
        **extra,
        "Dockerfile": dockerfile,
        "app.py": (SOURCES / "app.py").read_bytes(),
        "VERSION": f"{name}\n".encode(),
        "MODE": f"{mode}\n".encode(),
    }


def build_release_tarball(name: str) -> tuple[bytes, str]:
    """The gzipped tarball of release `name` and the sha256 its release record should carry.

    For `bad-checksum` that sha256 is deliberately not the tarball's.
    """
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in sorted(release_files(name).items()):
            _file(tar, path, data)
        if name == "dotdot":
            _file(tar, "../dotdot-escaped.txt", b"written outside the release\n")
        elif name == "absolute-path":
            _file(tar, "/tmp/freshfleet-absolute-escaped.txt", b"written outside\n")
        elif name == "symlink-out":
            _symlink(tar, "host-passwd", "../../../../../../etc/passwd")
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0) as out:
        out.write(raw.getvalue())
    data = gz.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    if name == "bad-checksum":
        sha = hashlib.sha256(data + b"tampered").hexdigest()
    return data, sha
