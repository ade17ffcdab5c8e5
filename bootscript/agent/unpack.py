"""The extract phase: unpack the release tarball so that nothing lands outside its directory.

Every member is checked first (absolute paths, `..`, links leading out of the tree or
through another link, devices, FIFOs, too many or too large members), then the archive is
extracted with tarfile's `filter="data"` where this Python has it, and member by member
with owners dropped and modes masked where it does not (Debian 12's Python 3.11.2 raises
TypeError on `filter=`).
"""

from __future__ import annotations

import copy
import os
import posixpath
import tarfile
from pathlib import Path

HAS_DATA_FILTER = hasattr(tarfile, "data_filter")
MAX_MEMBERS = 100_000


class ExtractError(Exception):
    """The archive is unsafe or unreadable; the message names the member and the reason."""


def _inside(path: str) -> bool:
    """True when a normalised relative path stays inside the tree."""
    return not (path.startswith("/") or path == ".." or path.startswith("../"))


def check_members(tar: tarfile.TarFile, limit: int) -> list[tarfile.TarInfo]:
    """The archive's members, or ExtractError naming the first one that is not safe."""
    members: list[tarfile.TarInfo] = []
    links: set[str] = set()
    total = 0
    for member in tar:
        name = member.name
        if len(members) >= MAX_MEMBERS:
            raise ExtractError(f"archive has more than {MAX_MEMBERS} members")
        if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
            raise ExtractError(f"{name}: absolute path")
        if ".." in name.replace("\\", "/").split("/"):
            raise ExtractError(f"{name}: path contains '..'")
        norm = posixpath.normpath(name)
        if not _inside(norm):
            raise ExtractError(f"{name}: path leaves the tree")
        parents = norm.split("/")[:-1]
        for i in range(1, len(parents) + 1):
            if "/".join(parents[:i]) in links:
                raise ExtractError(f"{name}: path goes through the link {'/'.join(parents[:i])}")
        if member.isdev() or member.isfifo():
            raise ExtractError(f"{name}: device or FIFO")
        if member.issym():
            if member.linkname.startswith("/"):
                raise ExtractError(f"{name}: symlink to absolute path {member.linkname}")
            target = posixpath.normpath(posixpath.join(posixpath.dirname(norm), member.linkname))
            if not _inside(target):
                raise ExtractError(f"{name}: symlink to {member.linkname} leaves the tree")
            links.add(norm)
        elif member.islnk():
            target = posixpath.normpath(member.linkname)
            if member.linkname.startswith("/") or not _inside(target):
                raise ExtractError(f"{name}: hard link to {member.linkname} leaves the tree")
            links.add(norm)
        elif not (member.isreg() or member.isdir()):
            raise ExtractError(f"{name}: unsupported member type {member.type!r}")
        total += max(member.size, 0)
        if total > limit:
            raise ExtractError(f"archive unpacks to more than the {limit}-byte limit")
        members.append(member)
    return members


def _tamed(member: tarfile.TarInfo) -> tarfile.TarInfo:
    """A copy owned by whoever extracts it, without setuid/setgid/sticky or group/other write."""
    tamed = copy.copy(member)
    tamed.uid, tamed.gid = os.getuid(), os.getgid()
    tamed.uname = tamed.gname = ""
    base = 0o700 if member.isdir() else 0o600
    tamed.mode = (member.mode & 0o755) | base
    return tamed


def extract(archive: Path, dest: Path, *, limit: int, use_data_filter: bool | None = None) -> int:
    """Unpack archive (tar, optionally gz/bz2/xz) into dest; returns the member count.

    dest is created and must not exist or be empty. Raises ExtractError with the reason.
    """
    use_filter = HAS_DATA_FILTER if use_data_filter is None else use_data_filter
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise ExtractError(f"{dest} is not empty")
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = check_members(tar, limit)
            if use_filter:
                try:
                    tar.extractall(dest, members=members, filter="data")
                    return len(members)
                except TypeError:  # a 3.11 without PEP 706: fall through to the checked path
                    pass
            for member in members:
                tar.extract(_tamed(member), dest, set_attrs=not member.issym())
            return len(members)
    except ExtractError:
        raise
    except tarfile.TarError as exc:
        raise ExtractError(f"not a readable tar archive: {exc}") from exc
    except OSError as exc:
        raise ExtractError(f"cannot extract: {exc}") from exc
