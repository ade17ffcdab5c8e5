"""The health phase: HTTP on the published port and the release's health path, until a deadline."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable

POLL_SECONDS = 0.5
REQUEST_TIMEOUT = 3.0


class HealthError(Exception):
    """The release never answered 2xx on its health path before the deadline; says what it did."""


def probe(url: str) -> str:
    """'' when url answers 2xx, else what it answered instead."""
    try:
        with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT) as resp:
            if 200 <= resp.status < 300:
                return ""
            return f"HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        return str(exc.reason)
    except (OSError, ValueError) as exc:
        return str(exc) or type(exc).__name__


def wait_healthy(
    url: str,
    deadline_s: float,
    *,
    container_state: Callable[[], str] = lambda: "",
    log: Callable[[str], None] = lambda _line: None,
) -> float:
    """Poll url until it answers 2xx; returns the seconds it took.

    Raises HealthError after deadline_s with the last answer and the container's state
    (container_state() returns a short description, '' when there is nothing to add).
    """
    started = time.monotonic()
    last = ""
    while True:
        answer = probe(url)
        if not answer:
            return time.monotonic() - started
        if answer != last:
            log(f"freshfleet-boot: health {url}: {answer}")
            last = answer
        if time.monotonic() - started >= deadline_s:
            state = container_state()
            extra = f"; {state}" if state else ""
            raise HealthError(
                f"no healthy answer from {url} within {deadline_s:g} s (last: {last}){extra}"
            )
        time.sleep(POLL_SECONDS)
