"""Release base images for a Docker engine with no registry: mmdebstrap, then `docker import`.

A release's Dockerfile builds `FROM ${BASE_IMAGE}`; this module makes sure the engine has
such an image. The recipe (Debian bookworm, minbase + python3) is hashed, and the image is
tagged `freshfleet-base:bookworm-<recipe hash>` (and `freshfleet-base:bookworm`), built at
most once per recipe even when several processes ask at the same time (a file lock).
`build_rootfs_tarball()` is the same rootfs as a tarball, for images that `docker import`
it at first boot.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

Progress = Callable[[str], None]

SUITE = "bookworm"
REPOSITORY = "freshfleet-base"
ALIAS = f"{REPOSITORY}:{SUITE}"
MIRROR = os.environ.get("FRESHFLEET_DEBIAN_MIRROR", "http://deb.debian.org/debian")
RECIPE: dict[str, Any] = {
    "suite": SUITE,
    "variant": "minbase",
    # python3, not python3-minimal: the latter lacks http.server and urllib.request
    "include": ["python3", "ca-certificates"],
    # the host's resolv.conf and hostname must not leak into every release
    "customize": 'rm -f "$1/etc/resolv.conf" "$1/etc/hostname"',
    "dpkgopt": [
        "path-exclude=/usr/share/doc/*",
        "path-include=/usr/share/doc/*/copyright",
        "path-exclude=/usr/share/man/*",
        "path-exclude=/usr/share/locale/*",
        "path-exclude=/usr/share/info/*",
    ],
    "changes": ["ENV LANG=C.UTF-8", 'CMD ["/bin/bash"]'],
}


def recipe_hash() -> str:
    """Twelve hex digits naming the recipe: a changed recipe is a new image."""
    return hashlib.sha256(json.dumps(RECIPE, sort_keys=True).encode()).hexdigest()[:12]


def image_tag() -> str:
    """`freshfleet-base:bookworm-<recipe hash>`."""
    return f"{REPOSITORY}:{SUITE}-{recipe_hash()}"


def can_build() -> tuple[bool, str]:
    """Whether this machine can run mmdebstrap (root, or unprivileged user namespaces)."""
    if not shutil.which("mmdebstrap"):
        return False, "mmdebstrap is not installed (apt-get install mmdebstrap)"
    if os.geteuid() != 0 and not Path("/usr/bin/newuidmap").exists():
        return False, "mmdebstrap needs root or uidmap for --mode=unshare"
    return True, "mmdebstrap can build it"


def mmdebstrap_command(dest: Path) -> list[str]:
    mode = "root" if os.geteuid() == 0 else "unshare"
    cmd = [
        "mmdebstrap",
        f"--mode={mode}",
        f"--variant={RECIPE['variant']}",
        f"--include={','.join(RECIPE['include'])}",
        "--format=tar",
        f"--customize-hook={RECIPE['customize']}",
        '--aptopt=Acquire::Retries "3"',
    ]
    cmd += [f"--dpkgopt={opt}" for opt in RECIPE["dpkgopt"]]
    return [*cmd, SUITE, str(dest), MIRROR]


def build_rootfs_tarball(dest: Path, progress: Progress = lambda _line: None) -> Path:
    """Build the base rootfs as a tar at dest with mmdebstrap (30–60 s); RuntimeError on failure.

    progress receives mmdebstrap's own progress lines as they come.
    """
    ok, why = can_build()
    if not ok:
        raise RuntimeError(why)
    dest.parent.mkdir(parents=True, exist_ok=True)
    cmd = mmdebstrap_command(dest)
    progress(f"building the release base image with mmdebstrap ({SUITE}, minbase + python3)")
    tail: list[str] = []
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            if line:
                tail = [*tail[-9:], line]
                progress(line)
        code = proc.wait()
    if code != 0:
        dest.unlink(missing_ok=True)
        raise RuntimeError(f"mmdebstrap failed ({code}): " + " | ".join(tail[-3:]))
    return dest


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    path = Path(tempfile.gettempdir()) / f"freshfleet-base-{recipe_hash()}.lock"
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def has_image(client: Any, ref: str) -> bool:
    """Whether the engine has the image ref (no pull)."""
    try:
        client.images.get(ref)
        return True
    except Exception as exc:
        if type(exc).__name__ in ("ImageNotFound", "NotFound"):
            return False
        raise


def ensure_base_image(
    client: Any | None = None,
    progress: Progress = lambda _line: None,
    configured: str = "",
) -> str:
    """The tag of a release base image the engine has, building and importing it if needed.

    A configured image the engine already has is used as it is;
    otherwise the recipe's image, built once per recipe hash. Raises RuntimeError when it
    can be neither found nor built.
    """
    if client is None:
        import docker

        client = docker.from_env(timeout=600)
    if configured and has_image(client, configured):
        return configured
    tag = image_tag()
    if has_image(client, tag):
        return tag
    with _build_lock():
        if has_image(client, tag):  # another process built it while we waited
            return tag
        with tempfile.TemporaryDirectory(prefix="freshfleet-base-") as tmp:
            tarball = build_rootfs_tarball(Path(tmp) / "rootfs.tar", progress)
            progress(f"importing {tarball.stat().st_size // 2**20} MiB as {tag}")
            repository, _, version = tag.partition(":")
            client.api.import_image_from_file(
                str(tarball), repository=repository, tag=version, changes=RECIPE["changes"]
            )
        client.images.get(tag).tag(REPOSITORY, SUITE)
        progress(f"release base image {tag} ready")
    return tag


def base_image_status(client: Any, configured: str = "") -> tuple[bool, str]:
    """(True, why) when the engine has a base image or this machine can build one."""
    if configured and has_image(client, configured):
        return True, f"base image {configured} present"
    if has_image(client, image_tag()):
        return True, f"base image {image_tag()} present"
    ok, why = can_build()
    return ok, (f"base image {image_tag()} will be built: {why}" if ok else why)


def main(argv: list[str] | None = None) -> int:
    """`python3 -m bootscript.baseimage [--rootfs PATH]`: make the image (or only the tarball)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python3 -m bootscript.baseimage", description=__doc__)
    parser.add_argument("--rootfs", metavar="PATH", help="only build the rootfs tarball at PATH")
    args = parser.parse_args(argv)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        if args.rootfs:
            print(build_rootfs_tarball(Path(args.rootfs), say))
        else:
            print(ensure_base_image(progress=say))
    except RuntimeError as exc:
        say(f"no release base image: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
