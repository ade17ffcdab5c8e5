"""Steady demo traffic through every load balancer, so a canary has evidence to be judged on.

`freshfleet localaws --traffic RPS` (config `localaws.traffic_rps`) sends RPS requests a
second to each local listener, `GET /` as a user's browser would, spread evenly over the
second. It is the sandbox's own traffic to its own loopback ports: it stops with localaws,
and never keeps more than MAX_IN_FLIGHT requests open (a stuck target cannot pile them up).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import aiohttp

MAX_IN_FLIGHT = 64
REQUEST_TIMEOUT_SECONDS = 10.0


class DemoTraffic:
    """Requests at `rps` per load balancer listener, from `ports()` (read each second)."""

    def __init__(self, rps: float, ports: Callable[[], list[int]]) -> None:
        self.rps = rps
        self.ports = ports
        self.sent = 0
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> None:
        if self.rps > 0:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="demo-traffic")

    async def stop(self) -> None:
        for task in [self._task, *self._in_flight]:
            if task is not None:
                task.cancel()
        for task in [self._task, *self._in_flight]:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
        self._session = aiohttp.ClientSession(timeout=timeout)
        loop = asyncio.get_running_loop()
        gap = 1.0 / self.rps
        next_at = loop.time()
        while True:
            for port in self.ports():
                if len(self._in_flight) < MAX_IN_FLIGHT:
                    task = loop.create_task(self._get(port))
                    self._in_flight.add(task)
                    task.add_done_callback(self._in_flight.discard)
            next_at += gap
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    async def _get(self, port: int) -> None:
        assert self._session is not None
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
            async with self._session.get(f"http://127.0.0.1:{port}/") as resp:
                await resp.read()
                self.sent += 1
