"""The extract phase: crafted tarballs never write outside the extraction directory.

Every case runs twice: with tarfile's `filter="data"`, and with the checked fallback that
Debian 12's Python 3.11.2 needs.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from bootscript.agent.unpack import HAS_DATA_FILTER, ExtractError, extract

LIMIT = 1024 * 1024


def tarball(path: Path, *members: tuple[str, str, object]) -> Path:
    """members: (kind, name, payload) with kind file|dir|symlink|hardlink|fifo|chr."""
    with tarfile.open(path, "w:gz") as tar:
        for kind, name, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                data = payload if isinstance(payload, bytes) else str(payload).encode()
                info.size = len(data)
                info.mode = 0o644
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
            info.mode = 0o755 if kind == "dir" else 0o644
            if kind in ("symlink", "hardlink"):
                info.linkname = str(payload)
            tar.addfile(info)
    return path


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture(params=["data-filter", "checked-fallback"])
def use_filter(request: pytest.FixtureRequest) -> bool:
    if request.param == "data-filter" and not HAS_DATA_FILTER:
        pytest.skip("this Python has no tarfile data filter")
    return bool(request.param == "data-filter")


def test_a_good_release_unpacks_with_its_files_and_inner_links(
    tmp_path: Path, use_filter: bool
) -> None:
    archive = tarball(
        tmp_path / "r.tar.gz",
        ("file", "Dockerfile", "FROM base\n"),
        ("dir", "app", None),
        ("file", "app/main.py", "print('hi')\n"),
        ("symlink", "app/current", "main.py"),
        ("symlink", "static", "app"),
        ("hardlink", "app/copy.py", "app/main.py"),
    )
    dest = tmp_path / "out"
    assert extract(archive, dest, limit=LIMIT, use_data_filter=use_filter) == 6
    assert (dest / "app" / "main.py").read_text() == "print('hi')\n"
    assert os.readlink(dest / "app" / "current") == "main.py"
    assert (dest / "app" / "copy.py").read_text() == "print('hi')\n"


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
    ],
)
def test_a_hostile_archive_is_refused_and_nothing_lands_outside(
    tmp_path: Path, use_filter: bool, members: tuple[tuple[str, str, object], ...], reason: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    archive = tarball(tmp_path / "evil.tar.gz", ("file", "Dockerfile", "FROM x\n"), *members)
    before = snapshot(tmp_path)
    with pytest.raises(ExtractError, match=reason):
        extract(archive, work / "out", limit=LIMIT, use_data_filter=use_filter)
    assert snapshot(tmp_path) - before <= {"work/out"}
    assert not Path("/tmp/freshfleet-absolute-escaped.txt").exists()


def test_an_oversize_archive_is_refused(tmp_path: Path, use_filter: bool) -> None:
    archive = tarball(tmp_path / "big.tar.gz", ("file", "zeros", b"\0" * 4096))
    with pytest.raises(ExtractError, match="limit"):
        extract(archive, tmp_path / "out", limit=1000, use_data_filter=use_filter)
    assert not (tmp_path / "out" / "zeros").exists()


def test_setuid_bits_never_survive(tmp_path: Path, use_filter: bool) -> None:
    archive = tarball(tmp_path / "r.tar.gz", ("setuid", "tool", None))
    extract(archive, tmp_path / "out", limit=LIMIT, use_data_filter=use_filter)
    mode = (tmp_path / "out" / "tool").stat().st_mode
    assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_IWOTH)


def test_something_that_is_not_a_tarball_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "r.tar.gz"
    bogus.write_bytes(b"<html>404</html>")
    with pytest.raises(ExtractError, match="not a readable tar archive"):
        extract(bogus, tmp_path / "out", limit=LIMIT)
