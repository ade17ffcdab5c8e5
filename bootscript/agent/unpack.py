"""The extract phase: unpack the release tarball so that nothing lands outside its directory.

The agent runs as root, so this is the line between a release author and the instance
(docs/SECURITY.md). tarfile only parses the archive here; every member is created by this
module relative to a descriptor of the tree's directory, each path walked with
`O_NOFOLLOW`, so no link, whether from the archive or already on disk, is ever followed
while writing, linking or setting modes. One path on every Python: tarfile's
`filter="data"` is missing on Debian 12's Python 3.11.2, and before 3.11.13 its own link
checks could be bypassed (CVE-2025-4517), so the agent does not rely on it.

What is refused, each with the member's name and the reason: absolute paths and `..`;
a path through a link or a file; a symlink that resolves outside the tree (resolved
through the archive's own links, as the kernel would, and again once every member is in
place, so a later link cannot turn an earlier one outward); a hard link to anything but an
earlier regular file; a name used twice (a directory listed twice excepted); a
`Dockerfile` or `.dockerignore` that is not a regular file; devices, FIFOs and sparse
files; more than `max_members` members or `limit` bytes; an extended header (pax, GNU
long name) over MAX_HEADER_BYTES, refused before tarfile reads it into memory. A refused
archive leaves nothing behind.
"""

from __future__ import annotations

import lzma
import os
import posixpath
import shutil
import tarfile
import zlib
from pathlib import Path
from typing import Any

MAX_MEMBERS = 100_000
MAX_HEADER_BYTES = 1024 * 1024  # one pax or GNU long-name header; real ones are bytes
MAX_HEADER_TOTAL = 32 * 1024 * 1024  # all of an archive's extended headers together
MAX_NAME_BYTES = 4096  # Linux's PATH_MAX
MAX_LINK_HOPS = 40  # Linux's MAXSYMLINKS
DOCKER_FILES = ("Dockerfile", ".dockerignore")  # read by the build: never through a link
CHUNK = 1024 * 1024

_EXTENDED = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE)
_SOLARIS_XHDTYPE = b"X"
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class ExtractError(Exception):
    """The archive is unsafe or unreadable; the message names the member and the reason."""


class _BoundedTarInfo(tarfile.TarInfo):
    """tarfile's header parser, refusing before they are read what would take unbounded memory.

    These hooks are tarfile's own (unchanged from 3.8 to 3.13); tests run them on both the
    project's Python and Debian's 3.11.2.
    """

    def _proc_member(self, tar: Any) -> Any:
        if self.type in (*_EXTENDED, _SOLARIS_XHDTYPE):
            if self.size > MAX_HEADER_BYTES:
                raise ExtractError(
                    f"extended header of {self.size} bytes is over the "
                    f"{MAX_HEADER_BYTES}-byte limit"
                )
            tar.extended_bytes += self.size
            if tar.extended_bytes > MAX_HEADER_TOTAL:
                raise ExtractError(f"extended headers are over the {MAX_HEADER_TOTAL}-byte limit")
        elif self.type == tarfile.GNUTYPE_SPARSE:
            raise ExtractError(f"{self.name}: sparse files are not supported")
        return super()._proc_member(tar)  # type: ignore[misc]

    # GNU sparse maps in pax headers; 1.0 reads its map unbounded from the member's data.
    def _proc_gnusparse_00(self, next: Any, *_: Any) -> None:
        raise ExtractError(f"{next.name}: sparse files are not supported")

    _proc_gnusparse_01 = _proc_gnusparse_00
    _proc_gnusparse_10 = _proc_gnusparse_00


class _BoundedTarFile(tarfile.TarFile):
    tarinfo = _BoundedTarInfo
    extended_bytes = 0  # the extended headers read so far


class _Tree:
    """What is on disk under the tree so far, by normalised relative path, and its writer.

    The tree starts empty and only this writes to it, so this record is what is on disk.
    """

    def __init__(self, root: Path) -> None:
        self.root = os.open(root, _DIR)
        self.kinds: dict[str, str] = {"": "directory"}  # path -> directory|file|symlink
        self.links: dict[str, str] = {}  # symlink path -> its target

    def close(self) -> None:
        os.close(self.root)

    # -- where a path leads ------------------------------------------------------------

    def resolves_inside(self, link: str, target: str) -> bool:
        """Whether a symlink at `link` to `target` leads to a place inside the tree.

        Walks the target as the kernel would, following the tree's own symlinks (a name not
        in the tree counts as a plain directory); leaving the root at any step is outside.
        """
        if target.startswith("/"):
            return False
        where = link.split("/")[:-1]
        pending = list(reversed(target.split("/")))
        hops = 0
        while pending:
            part = pending.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if not where:
                    return False
                where.pop()
                continue
            path = "/".join([*where, part])
            if path in self.links:
                hops += 1
                if hops > MAX_LINK_HOPS:
                    return False
                pending.extend(reversed(self.links[path].split("/")))
                continue
            where.append(part)
        return True

    def check_parents(self, name: str, path: str) -> None:
        parts = path.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            kind = self.kinds.get(parent)
            if kind == "symlink":
                raise ExtractError(f"{name}: path goes through the link {parent}")
            if kind == "file":
                raise ExtractError(f"{name}: path goes through the file {parent}")

    # -- writing, never through a link -------------------------------------------------

    def _dir(self, parts: list[str]) -> int:
        """A descriptor of the directory at parts, made where missing (the caller closes it)."""
        fd = os.dup(self.root)
        try:
            for i, part in enumerate(parts):
                try:
                    nxt = os.open(part, _DIR, dir_fd=fd)
                except FileNotFoundError:
                    os.mkdir(part, 0o755, dir_fd=fd)
                    self.kinds["/".join(parts[: i + 1])] = "directory"
                    nxt = os.open(part, _DIR, dir_fd=fd)
                os.close(fd)
                fd = nxt
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _parent(self, path: str) -> tuple[int, str]:
        *parents, leaf = path.split("/")
        return self._dir(parents), leaf

    def directory(self, path: str, mode: int) -> None:
        fd = self._dir(path.split("/"))
        try:
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        self.kinds[path] = "directory"

    def file(self, path: str, source: Any, mode: int, mtime: int) -> None:
        parent, leaf = self._parent(path)
        try:
            fd = os.open(leaf, _NEW_FILE, 0o600, dir_fd=parent)
        finally:
            os.close(parent)
        self.kinds[path] = "file"
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out, CHUNK)
            out.flush()
            os.fchmod(fd, mode)
            os.utime(fd, (mtime, mtime))

    def symlink(self, path: str, target: str) -> None:
        parent, leaf = self._parent(path)
        try:
            os.symlink(target, leaf, dir_fd=parent)
        finally:
            os.close(parent)
        self.kinds[path] = "symlink"
        self.links[path] = target

    def hardlink(self, path: str, target: str) -> None:
        source, source_leaf = self._parent(target)
        try:
            parent, leaf = self._parent(path)
            try:
                os.link(
                    source_leaf,
                    leaf,
                    src_dir_fd=source,
                    dst_dir_fd=parent,
                    follow_symlinks=False,
                )
            finally:
                os.close(parent)
        finally:
            os.close(source)
        self.kinds[path] = "file"


def _name(raw: str, what: str = "") -> str:
    """The member name normalised, or ExtractError when it is absolute or leaves the tree."""
    label = f"{what}{raw}"
    if "\0" in raw or len(raw.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise ExtractError(f"{label[:200]}: bad name")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise ExtractError(f"{label}: absolute path")
    if ".." in raw.replace("\\", "/").split("/"):
        raise ExtractError(f"{label}: path contains '..'")
    norm = posixpath.normpath(raw)
    return "" if norm == "." else norm


def _mode(member: tarfile.TarInfo) -> int:
    """Its mode without setuid/setgid/sticky or group/other write; the owner may always write."""
    return (member.mode & 0o755) | (0o700 if member.isdir() else 0o600)


def _add(tree: _Tree, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
    """Check one member against the tree so far and create it; ExtractError when it is unsafe."""
    name = member.name
    path = _name(name)
    if member.isdev() or member.isfifo():
        raise ExtractError(f"{name}: device or FIFO")
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        raise ExtractError(f"{name}: unsupported member type {member.type!r}")
    if member.issparse():
        raise ExtractError(f"{name}: sparse files are not supported")
    if path == "":
        return  # the tree itself: its mode is ours
    tree.check_parents(name, path)
    earlier = tree.kinds.get(path)
    if earlier is not None and not (earlier == "directory" and member.isdir()):
        raise ExtractError(f"{name}: reuses the name of an earlier {earlier}")
    if path in DOCKER_FILES and not member.isreg():
        kind = "link" if member.issym() or member.islnk() else "directory"
        raise ExtractError(f"{name}: must be a regular file, not a {kind}")
    if member.isdir():
        tree.directory(path, _mode(member))
    elif member.isreg():
        source = tar.extractfile(member)
        assert source is not None
        mtime = min(max(int(member.mtime), 0), 2**32)
        tree.file(path, source, _mode(member), mtime)
    elif member.issym():
        target = member.linkname
        if target.startswith("/"):
            raise ExtractError(f"{name}: symlink to absolute path {target}")
        if not target or "\0" in target or len(target.encode()) > MAX_NAME_BYTES:
            raise ExtractError(f"{name}: bad symlink target")
        if not tree.resolves_inside(path, target):
            raise ExtractError(f"{name}: symlink to {target} leaves the tree")
        tree.symlink(path, target)
    else:
        target = member.linkname
        if target.startswith("/") or ".." in target.split("/"):
            raise ExtractError(f"{name}: hard link to {target} leaves the tree")
        linked = _name(target, f"{name} -> ")
        if tree.kinds.get(linked) != "file":  # never a link, a directory or a name yet to come
            raise ExtractError(f"{name}: hard link to {target}, which is not an earlier file")
        tree.hardlink(path, linked)


def _unpack(tar: tarfile.TarFile, tree: _Tree, limit: int, max_members: int) -> int:
    count = total = 0
    while (member := tar.next()) is not None:
        tar.members.clear()  # type: ignore[attr-defined]  # tarfile keeps every header it reads
        count += 1
        if count > max_members:
            raise ExtractError(f"archive has more than {max_members} members")
        if member.size < 0:
            raise ExtractError(f"{member.name}: bad size {member.size}")
        if member.isreg():
            total += member.size
            if total > limit:
                raise ExtractError(f"archive unpacks to more than the {limit}-byte limit")
        _add(tree, tar, member)
    # A link made early can be turned outward by a later one (a -> b/.., then b -> .).
    for path, target in tree.links.items():
        if not tree.resolves_inside(path, target):
            raise ExtractError(f"{path}: symlink to {target} leaves the tree")
    return count


def extract(archive: Path, dest: Path, *, limit: int, max_members: int = MAX_MEMBERS) -> int:
    """Unpack archive (tar, optionally gz/bz2/xz) into dest; returns the member count.

    dest is created and must not exist or be empty. Raises ExtractError with the reason,
    and then leaves dest empty: nothing of a refused archive stays on disk.
    """
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise ExtractError(f"{dest} is not empty")
    try:
        tree = _Tree(dest)
        try:
            with _BoundedTarFile.open(archive, "r:*") as tar:
                return _unpack(tar, tree, limit, max_members)
        finally:
            tree.close()
    except BaseException as exc:
        _empty(dest)
        if isinstance(exc, ExtractError):
            raise
        if isinstance(exc, (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError)):
            raise ExtractError(f"not a readable tar archive: {exc}") from exc
        if isinstance(exc, OSError):
            raise ExtractError(f"cannot extract: {exc}") from exc
        raise


def _empty(dest: Path) -> None:
    """Remove what a refused archive left in dest (rmtree never follows a link)."""
    for entry in os.scandir(dest):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)
