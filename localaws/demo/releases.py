"""The local release server: release tarballs over loopback HTTP, with real sha256s.

It serves the demo releases `bootscript.releases` builds (`v1`, `v2`, `v3` and the fault
releases) at `/releases/<app>/<name>.tar.gz`. Release URLs on loopback http:// pass the
user-data validation without --allow-insecure-url (nothing on the network can touch them).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass

from aiohttp import web

from localaws.http_server import serve_on_loopback

DEMO_APP = "demo-web"


@dataclass(frozen=True, slots=True)
class Tarball:
    data: bytes
    sha256: str


def demo_tarball(name: str) -> Tarball:
    """Release `name` of the demo app: the bootscript's build when present, else a tiny one."""
    try:
        from bootscript.releases import build_release_tarball
    except ImportError:
        return _tiny_tarball(name)
    data, sha = build_release_tarball(name)
    return Tarball(data, sha)


def _tiny_tarball(name: str) -> Tarball:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        body = f"{DEMO_APP} {name}\n".encode()
        info = tarfile.TarInfo("VERSION")
        info.size, info.mtime = len(body), 1_700_000_000
        tar.addfile(info, io.BytesIO(body))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    data = out.getvalue()
    return Tarball(data, hashlib.sha256(data).hexdigest())


class ReleaseServer:
    """Serves tarballs by name; `url_of(app, name)` says where each one is."""

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._cache: dict[str, Tarball] = {}

    def tarball(self, name: str) -> Tarball:
        if name not in self._cache:
            self._cache[name] = demo_tarball(name)
        return self._cache[name]

    def url_of(self, app: str, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/releases/{app}/{name}.tar.gz"

    async def open(self) -> None:
        app = web.Application()
        app.router.add_get("/releases/{app}/{name}.tar.gz", self._get)
        self._runner, self.port = await serve_on_loopback(app)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _get(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["app"] != DEMO_APP:
            raise web.HTTPNotFound(text="no such release\n")
        try:
            tarball = self.tarball(request.match_info["name"])
        except KeyError as exc:
            raise web.HTTPNotFound(text=f"{exc}\n") from None
        return web.Response(body=tarball.data, content_type="application/gzip")
