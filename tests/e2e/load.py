"""A bounded load generator for the local ALB: a constant request rate on loopback, in a
thread of its own, recording every request.

`Load(url, rate=50, max_seconds=600)` only talks to 127.0.0.1/localhost; it stops by
itself after `max_seconds` (or `rate * max_seconds` requests), or at `stop()`. Every request
is sent on its own schedule (an open loop), so a slow answer never lowers the rate, and
its `Sample` records when it was sent, its status (0 when the connection failed), the
version the answer reports and its latency. `mark(label)` notes a moment (the start of a
deploy, its end) so figures can be cut into phases.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

REQUEST_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Sample:
    """One request: sent `at` seconds after the load started."""

    at: float
    status: int  # 0: no HTTP answer (refused, reset, timed out)
    version: str
    latency: float
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200


def version_of(body: str) -> str:
    """The release an answer reports: real releases answer JSON `{"version": ...}`,
    simulated ones `app version instance-id`."""
    try:
        parsed = json.loads(body)
    except ValueError:
        words = body.split()
        return words[1] if len(words) >= 2 else ""
    return str(parsed.get("version", "")) if isinstance(parsed, dict) else ""


class Load:
    """A constant request rate through one URL until stopped or its bounds are reached."""

    def __init__(self, url: str, rate: float = 50.0, max_seconds: float = 600.0) -> None:
        host = urlsplit(url).hostname
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError(f"the load generator only talks to loopback, not {host!r}")
        self.url = url
        self.rate = rate
        self.max_seconds = max_seconds
        self.max_requests = math.ceil(rate * max_seconds)
        self.samples: list[Sample] = []
        self.marks: list[tuple[str, float]] = []
        self._started = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load", daemon=True)

    def __enter__(self) -> Load:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._started = time.monotonic()
        self._thread.start()

    def now(self) -> float:
        return time.monotonic() - self._started

    def mark(self, label: str) -> float:
        """Note a moment (seconds since the start) under `label`; returns it."""
        at = self.now()
        self.marks.append((label, at))
        return at

    def stop(self) -> list[Sample]:
        """Stop sending, wait for the answers in flight, and return every sample."""
        self._stop.set()
        self._thread.join(REQUEST_TIMEOUT_SECONDS + 10)
        return self.samples

    def wait_for(self, count: int, within: float = 60.0) -> None:
        """Block until `count` answers are in (e.g. a baseline before a deploy)."""
        deadline = time.monotonic() + within
        while len(self.samples) < count:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise AssertionError(f"only {len(self.samples)} of {count} answers in {within} s")
            time.sleep(0.05)

    def _run(self) -> None:
        asyncio.run(self._drive())

    async def _drive(self) -> None:
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
        # A fresh connection per request, as separate clients would open: a kept-alive
        # socket to the listener would hide a listener that stops accepting.
        connector = aiohttp.TCPConnector(force_close=True, limit=0)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            tasks: set[asyncio.Task[None]] = set()
            interval = 1.0 / self.rate
            for n in range(self.max_requests):
                due = n * interval
                if self._stop.is_set() or due > self.max_seconds:
                    break
                delay = due - self.now()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.create_task(self._one(session, self.now()))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.wait(tasks)

    async def _one(self, session: aiohttp.ClientSession, at: float) -> None:
        started = time.monotonic()
        try:
            async with session.get(self.url) as resp:
                body = await resp.text()
                sample = Sample(at, resp.status, version_of(body), time.monotonic() - started)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            sample = Sample(at, 0, "", time.monotonic() - started, f"{type(exc).__name__}: {exc}")
        self.samples.append(sample)


# -- figures ---------------------------------------------------------------------------------


def between(samples: Iterable[Sample], start: float, end: float) -> list[Sample]:
    """The samples sent in [start, end)."""
    return [s for s in samples if start <= s.at < end]


def failures(samples: Iterable[Sample]) -> list[Sample]:
    return [s for s in samples if not s.ok]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_ms(samples: list[Sample]) -> tuple[float, float]:
    """(p50, p99) latency of the samples, in milliseconds."""
    values = [s.latency for s in samples]
    return percentile(values, 50) * 1000, percentile(values, 99) * 1000


def version_runs(samples: Iterable[Sample]) -> list[str]:
    """The versions answered, in the order the requests were sent, repeats folded:
    `["v1", "v2"]` for one clean shift."""
    runs: list[str] = []
    for s in sorted(samples, key=lambda s: s.at):
        if s.ok and (not runs or runs[-1] != s.version):
            runs.append(s.version)
    return runs
