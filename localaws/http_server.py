"""localaws's own HTTP servers (moto's, the data plane, releases, simulated apps, IMDS) and
the one limit they share: a connection has `header_timeout()` seconds to send a whole
request head, and an idle keep-alive connection is closed after as long, so a client that
trickles a header byte by byte (or opens connections and says nothing) cannot hold them.

The process sets it once at start (config `localaws.header_timeout_seconds`); it is wall
time, not one of AWS's timings, so the time scale does not touch it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any, TypeVar

from aiohttp import web

_header_timeout = 30.0


def set_header_timeout(seconds: float) -> None:
    """Make every server started later use `seconds` (> 0)."""
    global _header_timeout
    if not seconds > 0:
        raise ValueError(f"the header timeout must be above 0 seconds, got {seconds!r}")
    _header_timeout = float(seconds)


def header_timeout() -> float:
    """The seconds a connection has to send a request head (30 until set)."""
    return _header_timeout


def app_runner(app: web.Application) -> web.AppRunner:
    """An aiohttp runner for `app` with the header timeout: aiohttp's keep-alive timer runs
    from the connection (or the last answer) until a whole request head has arrived."""
    return web.AppRunner(
        app, access_log=None, handle_signals=False, keepalive_timeout=_header_timeout
    )


async def serve_on_loopback(app: web.Application) -> tuple[web.AppRunner, int]:
    """`app` served on 127.0.0.1 at a free port; returns its runner and the port."""
    runner = app_runner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server: Any = site._server  # aiohttp keeps the bound port here only
    return runner, int(server.sockets[0].getsockname()[1])


_Handler = TypeVar("_Handler", bound=BaseHTTPRequestHandler)


def timed_handler(base: type[_Handler]) -> type[_Handler]:
    """`base` (a werkzeug request handler) with the header timeout: each request head must
    arrive whole within it, or the connection is shut down; every read has it as its socket
    timeout, so an idle keep-alive connection ends too."""
    seconds = _header_timeout

    class Timed(base):  # type: ignore[misc, valid-type]
        timeout = seconds

        def handle_one_request(self) -> None:
            self._head_timer = threading.Timer(seconds, self._cut)
            self._head_timer.daemon = True
            self._head_timer.start()
            try:
                super().handle_one_request()
            finally:
                self._head_timer.cancel()

        def parse_request(self) -> bool:
            ok = bool(super().parse_request())  # the request line and headers are read
            self._head_timer.cancel()
            return ok

        def _cut(self) -> None:
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    Timed.__name__ = Timed.__qualname__ = f"Timed{base.__name__}"
    return Timed
