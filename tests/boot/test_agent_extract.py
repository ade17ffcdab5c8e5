"""The extract phase: crafted tarballs never write, chmod or read outside the extraction directory.

Every case runs under two interpreters: the project's own Python (whose tarfile has
`filter="data"`, which the agent does not rely on) and Debian 12's system Python 3.11.2
(`/usr/bin/python3`, the one the base image's unit runs, without that filter). The agent
runs as root on an instance, so an escape here is root on every instance.
"""

from __future__ import annotations

import io
import json
import lzma
import os
import stat
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from bootscript.agent.container import BuildError, build
from bootscript.agent.unpack import ExtractError

REPO = Path(__file__).resolve().parents[2]
DEBIAN_PYTHON = Path("/usr/bin/python3")
LIMIT = 1024 * 1024

# The agent's extract(), run in a child process of the interpreter under test; it prints
# the result and its own peak memory.
RUNNER = """
import json, resource, sys
from pathlib import Path
from bootscript.agent.unpack import ExtractError, extract
archive, dest, limit, max_members = sys.argv[1:5]
try:
    out = {"count": extract(Path(archive), Path(dest), limit=int(limit),
                            max_members=int(max_members))}
except ExtractError as exc:
    out = {"error": str(exc)}
out["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Interpreter:
    python: str

    def run(
        self, archive: Path, dest: Path, *, limit: int = LIMIT, max_members: int = 100_000
    ) -> dict[str, object]:
        """One extraction: {"count" or "error", "maxrss_kib" (the child's peak memory)}."""
        done = subprocess.run(
            [self.python, "-c", RUNNER, str(archive), str(dest), str(limit), str(max_members)],
            env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        out: dict[str, object] = json.loads(done.stdout)
        return out

    def extract(self, archive: Path, dest: Path, **limits: int) -> int:
        """The member count, or ExtractError with the agent's reason."""
        out = self.run(archive, dest, **limits)
        if "error" in out:
            raise ExtractError(str(out["error"]))
        return int(str(out["count"]))


@pytest.fixture(params=["project-python", "debian-python-3.11.2"])
def python(request: pytest.FixtureRequest) -> Interpreter:
    if request.param == "project-python":
        return Interpreter(sys.executable)
    if not DEBIAN_PYTHON.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs Debian's {DEBIAN_PYTHON} for these tests")
        pytest.skip(f"no {DEBIAN_PYTHON}")
    return Interpreter(str(DEBIAN_PYTHON))


Member = tuple[str, str, object]


def tarball(path: Path, *members: Member, fmt: int = tarfile.PAX_FORMAT) -> Path:
    """members: (kind, name, payload) with kind file|dir|symlink|hardlink|fifo|chr|setuid|sparse."""
    with tarfile.open(path, "w:gz", format=fmt) as tar:
        for kind, name, payload in members:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if kind in ("file", "sparse"):
                data = payload if isinstance(payload, bytes) else str(payload).encode()
                info.size, info.mode = len(data), 0o644
                if kind == "sparse":  # GNU sparse 1.0 in pax headers, as GNU tar writes it
                    info.pax_headers = {
                        "GNU.sparse.major": "1",
                        "GNU.sparse.minor": "0",
                        "GNU.sparse.name": name,
                        "GNU.sparse.realsize": str(1 << 40),
                    }
                tar.addfile(info, io.BytesIO(data))
                continue
            if kind == "setuid":
                info.size, info.mode = 2, 0o4777
                tar.addfile(info, io.BytesIO(b"#!"))
                continue
            info.type = {
                "dir": tarfile.DIRTYPE,
                "symlink": tarfile.SYMTYPE,
                "hardlink": tarfile.LNKTYPE,
                "fifo": tarfile.FIFOTYPE,
                "chr": tarfile.CHRTYPE,
            }[kind]
            info.mode = int(payload) if kind == "dir" and payload else 0o644
            if kind == "dir" and not payload:
                info.mode = 0o755
            if kind in ("symlink", "hardlink"):
                info.linkname = str(payload)
            tar.addfile(info)
    return path


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_a_good_release_unpacks_with_its_files_and_inner_links(
    tmp_path: Path, python: Interpreter
) -> None:
    archive = tarball(
        tmp_path / "r.tar.gz",
        ("dir", "./", None),
        ("file", "./Dockerfile", "FROM base\n"),
        ("dir", "app", None),
        ("file", "app/main.py", "print('hi')\n"),
        ("symlink", "app/current", "main.py"),
        ("symlink", "static", "app"),
        ("symlink", "here", "."),
        ("symlink", "again", "here/app/../static/current"),
        ("hardlink", "app/copy.py", "app/main.py"),
        ("file", "deep/er/file.txt", "implicit parents\n"),
        ("dir", "app/", None),  # a directory listed twice is still one directory
    )
    dest = tmp_path / "out"
    assert python.extract(archive, dest) == 11
    assert (dest / "app" / "main.py").read_text() == "print('hi')\n"
    assert os.readlink(dest / "app" / "current") == "main.py"
    assert (dest / "again").read_text() == "print('hi')\n"
    assert (dest / "app" / "copy.py").read_text() == "print('hi')\n"
    assert (dest / "deep" / "er" / "file.txt").read_text() == "implicit parents\n"
    assert (dest / "Dockerfile").stat().st_mtime == 1_700_000_000


# A chain of links each lexically inside the tree: s is the tree, u1 its parent (work/),
# u2 the parent of that (the test's own directory, standing in for / on an instance).
CLIMB: tuple[Member, ...] = (
    ("symlink", "s", "."),
    ("symlink", "u1", "s/.."),
    ("symlink", "u2", "u1/.."),
)


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ((("file", "../escaped.txt", "x"),), "'..'"),
        ((("file", "app/../../escaped.txt", "x"),), "'..'"),
        ((("file", "/tmp/freshfleet-absolute-escaped.txt", "x"),), "absolute path"),
        ((("symlink", "passwd", "/etc/passwd"),), "absolute path"),
        ((("symlink", "up", "../../.."),), "leaves the tree"),
        ((("symlink", "app/up", "../../outside"),), "leaves the tree"),
        ((("hardlink", "shadow", "/etc/shadow"),), "leaves the tree"),
        ((("hardlink", "up", "../outside"),), "leaves the tree"),
        ((("symlink", "inner", "sub"), ("file", "inner/evil", "x")), "through the link"),
        ((("fifo", "pipe", None),), "device or FIFO"),
        ((("chr", "null", None),), "device or FIFO"),
        # the climbing chain, then a write, a chmod and a read through it
        ((*CLIMB, ("symlink", "w", "u2/written"), ("file", "w", "pwned")), "leaves the tree"),
        ((*CLIMB, ("symlink", "m", "u2/victim"), ("dir", "m", 0o700)), "leaves the tree"),
        ((*CLIMB, ("hardlink", "copy", "u2/secret")), "leaves the tree|not an earlier file"),
        ((*CLIMB, ("file", "u2/written", "pwned")), "leaves the tree|through the link"),
        # a link that is inside when made and outside once a later link exists
        (
            (("symlink", "a", "b/.."), ("symlink", "b", "."), ("file", "a/x", "y")),
            "through the link",
        ),
        ((("symlink", "a", "b/.."), ("symlink", "b", ".")), "leaves the tree"),
        # a member that reuses an earlier link's name would be written through the link
        ((("symlink", "w", "app"), ("file", "w", "x")), "reuses"),
        ((("symlink", "w", "app"), ("dir", "w", 0o700)), "reuses"),
        ((("file", "f", "x"), ("symlink", "f", "app")), "reuses"),
        # a hard link never follows a link, not even one inside the tree
        ((("symlink", "l", "Dockerfile"), ("hardlink", "h", "l")), "not an earlier file"),
        ((("hardlink", "h", "missing"),), "not an earlier file"),
        ((("sparse", "holes", "1\n0\n1\n"),), "sparse"),
    ],
    ids=[
        "dotdot",
        "dotdot-nested",
        "absolute",
        "symlink-absolute",
        "symlink-up",
        "symlink-nested-up",
        "hardlink-absolute",
        "hardlink-up",
        "through-symlink",
        "fifo",
        "device",
        "chain-write",
        "chain-chmod",
        "chain-hardlink-read",
        "chain-name",
        "late-link-name",
        "late-link",
        "reuse-link-as-file",
        "reuse-link-as-dir",
        "reuse-file-as-link",
        "hardlink-to-symlink",
        "hardlink-to-nothing",
        "sparse",
    ],
)
def test_a_hostile_archive_is_refused_and_nothing_outside_changes(
    tmp_path: Path, python: Interpreter, members: tuple[Member, ...], reason: str
) -> None:
    secret, victim = tmp_path / "secret", tmp_path / "victim"
    secret.write_text("root's secret\n")
    victim.mkdir(mode=0o755)
    victim.chmod(0o755)
    (tmp_path / "work").mkdir()
    archive = tarball(tmp_path / "evil.tar.gz", ("file", "Dockerfile", "FROM x\n"), *members)
    before = snapshot(tmp_path)
    secret_before = secret.stat()
    with pytest.raises(ExtractError, match=reason):
        python.extract(archive, tmp_path / "work" / "out")
    assert snapshot(tmp_path) - before <= {"work/out"}
    assert not list((tmp_path / "work").rglob("*/*"))  # a refused archive leaves nothing
    assert not Path("/tmp/freshfleet-absolute-escaped.txt").exists()
    assert stat.S_IMODE(victim.stat().st_mode) == 0o755
    after = secret.stat()
    assert (after.st_nlink, after.st_mtime, after.st_mode) == (
        secret_before.st_nlink,
        secret_before.st_mtime,
        secret_before.st_mode,
    )


@pytest.mark.parametrize("kind", ["symlink", "hardlink"])
@pytest.mark.parametrize("name", ["Dockerfile", ".dockerignore"])
def test_a_dockerfile_that_is_a_link_is_refused(
    tmp_path: Path, python: Interpreter, kind: str, name: str
) -> None:
    archive = tarball(
        tmp_path / "r.tar.gz",
        ("file", "real", "FROM x\n"),
        *([("file", "Dockerfile", "FROM x\n")] if name != "Dockerfile" else []),
        (kind, name, "real"),
    )
    with pytest.raises(ExtractError, match=f"{name}: must be a regular file"):
        python.extract(archive, tmp_path / "out")


def test_the_build_refuses_a_dockerfile_that_is_a_link(tmp_path: Path) -> None:
    (tmp_path / "real").write_text("FROM x\n")
    (tmp_path / "Dockerfile").symlink_to("real")
    with pytest.raises(BuildError, match="Dockerfile"):
        build(None, tmp_path, "t", "base", print)


def test_an_oversize_archive_is_refused(tmp_path: Path, python: Interpreter) -> None:
    archive = tarball(tmp_path / "big.tar.gz", ("file", "zeros", b"\0" * 4096))
    with pytest.raises(ExtractError, match="limit"):
        python.extract(archive, tmp_path / "out", limit=1000)
    assert not (tmp_path / "out" / "zeros").exists()


def test_an_archive_of_too_many_members_is_refused(tmp_path: Path, python: Interpreter) -> None:
    archive = tarball(tmp_path / "many.tar.gz", *(("file", f"f{i}", "") for i in range(12)))
    with pytest.raises(ExtractError, match="more than 10 members"):
        python.extract(archive, tmp_path / "out", max_members=10)


def _raw_header(name: str, size: int, kind: bytes) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.mode = size, kind, 0o644
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def header_bomb(path: Path, kind: bytes, size: int) -> Path:
    """An xz tarball whose one extended header (pax or GNU long name) holds `size` bytes.

    It compresses to a few dozen KB; tarfile reads an extended header whole into memory.
    """
    # a pax header is one valid record, "<its length> comment=<value>\n"; a long name is bytes
    prefix = f"{size} comment=".encode() if kind == tarfile.XHDTYPE else b""
    squeeze = lzma.LZMACompressor(preset=1)
    chunk = b"a" * (1 << 20)
    with path.open("wb") as out:
        out.write(squeeze.compress(_raw_header("././@LongLink", size, kind) + prefix))
        left = size - len(prefix) - 1
        while left:
            out.write(squeeze.compress(chunk[: min(left, len(chunk))]))
            left -= min(left, len(chunk))
        out.write(squeeze.compress(b"\n" + b"\0" * (-size % 512)))
        data = b"FROM x\n"
        member = _raw_header("Dockerfile", len(data), tarfile.REGTYPE) + data
        out.write(squeeze.compress(member + b"\0" * (-len(data) % 512) + b"\0" * 1024))
        out.write(squeeze.flush())
    return path


@pytest.mark.parametrize(
    "kind", [tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME], ids=["pax-header", "gnu-long-name"]
)
def test_a_header_bomb_is_refused_in_bounded_memory(
    tmp_path: Path, python: Interpreter, kind: bytes
) -> None:
    archive = header_bomb(tmp_path / "bomb.tar.xz", kind, 128 * 1024 * 1024)
    assert archive.stat().st_size < 100_000
    refused = python.run(archive, tmp_path / "out")
    assert "extended header" in str(refused.get("error")), refused
    # refused before the header was read: the peak is that of unpacking a one-file release
    small = tarball(tmp_path / "small.tar.gz", ("file", "Dockerfile", "FROM x\n"))
    baseline = int(str(python.run(small, tmp_path / "small")["maxrss_kib"]))
    assert int(str(refused["maxrss_kib"])) < baseline + 64 * 1024, (refused, baseline)


def test_setuid_bits_never_survive(tmp_path: Path, python: Interpreter) -> None:
    archive = tarball(tmp_path / "r.tar.gz", ("setuid", "tool", None), ("dir", "d", 0o7777))
    python.extract(archive, tmp_path / "out")
    for path in (tmp_path / "out" / "tool", tmp_path / "out" / "d"):
        mode = path.stat().st_mode
        assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX | stat.S_IWOTH | stat.S_IWGRP)


def test_something_that_is_not_a_tarball_is_refused(tmp_path: Path, python: Interpreter) -> None:
    bogus = tmp_path / "r.tar.gz"
    bogus.write_bytes(b"<html>404</html>")
    with pytest.raises(ExtractError, match="not a readable tar archive"):
        python.extract(bogus, tmp_path / "out")


def test_a_truncated_tarball_is_refused_and_leaves_nothing(
    tmp_path: Path, python: Interpreter
) -> None:
    whole = tarball(
        tmp_path / "r.tar.gz", ("file", "Dockerfile", "FROM x\n"), ("file", "big", b"x" * 50_000)
    )
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole.read_bytes()[:-200])
    with pytest.raises(ExtractError, match="not a readable tar archive"):
        python.extract(cut, tmp_path / "out")
    assert not (tmp_path / "out" / "Dockerfile").exists()
