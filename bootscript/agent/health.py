"""The health phase: HTTP on the published port and the release's health path, until a deadline.

The deadline (`FRESHFLEET_HEALTH_TIMEOUT`) comes from the rollout in the env file, below the
rollout's gate deadline, so a release that never answers is reported as `health fail` with
its last answer while the gate still waits for it.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable

POLL_SECONDS = 0.5
REQUEST_TIMEOUT = 3.0
DEFAULT_TIMEOUT_SECONDS = 180.0  # without FRESHFLEET_HEALTH_TIMEOUT in the env file


class HealthError(Exception):
    """The release never answered 2xx on its health path before the deadline; says what it did."""


def probe(url: str, timeout: float = REQUEST_TIMEOUT) -> str:
    """'' when url answers 2xx within timeout, else what it answered instead (a status
    line such as `HTTP 503 Service Unavailable`, or the connection's error)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            if 200 <= resp.status < 300:
                return ""
            return f"HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        return str(exc.reason)
    except (OSError, ValueError) as exc:
        return str(exc) or type(exc).__name__


def failure_detail(url: str, deadline_s: float, last: str, extra: str = "") -> str:
    """The detail of a `health fail` line: the last answer first, then what was waited for."""
    more = f"; {extra}" if extra else ""
    return f"{last or 'no answer'} from {url}: no healthy answer within {deadline_s:g} s{more}"


def wait_healthy(
    url: str,
    deadline_s: float,
    *,
    container_state: Callable[[], str] = lambda: "",
    log: Callable[[str], None] = lambda _line: None,
    ask: Callable[[str, float], str] = probe,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Poll url until it answers 2xx; returns the seconds it took.

    Never waits past deadline_s: a request is cut at the time left, the last poll is at the
    deadline. Then raises HealthError whose message is `failure_detail` (the last answer and
    the container's state; container_state() returns a short description, '' when there is
    nothing to add).
    """
    started = clock()
    last = ""
    while True:
        left = deadline_s - (clock() - started)
        answer = ask(url, max(0.1, min(REQUEST_TIMEOUT, left)))
        if not answer:
            return clock() - started
        if answer != last:
            log(f"freshfleet-boot: health {url}: {answer}")
            last = answer
        left = deadline_s - (clock() - started)
        if left <= 0:
            raise HealthError(failure_detail(url, deadline_s, last, container_state()))
        sleep(min(POLL_SECONDS, left))
