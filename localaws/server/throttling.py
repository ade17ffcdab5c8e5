"""AWS's request throttling: token buckets per account and region, and unprocessed keys.

- ELB ("Request throttling for the ELB API",
  https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html):
  one bucket per account and region for the non-mutating `Describe*` actions of ELB API
  version 2, 40 tokens refilled at 10 a second; beyond it, `Throttling: Rate exceeded`.
- EC2 ("Request throttling for the Amazon EC2 API",
  https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html): a bucket per
  non-mutating API (`Describe*`, `Get*`, `List*`, `Search*`), per account and region, 100
  tokens refilled at 20 a second; beyond it, `RequestLimitExceeded` (HTTP 503).
- DynamoDB (BatchGetItem API reference): a call may return any of its keys under
  `UnprocessedKeys` (throughput, response size), for the caller to ask again.

Mutating actions have buckets of their own on AWS that localaws does not meter (yet).
`[localaws] throttling = false` turns metering off (the benchmark fleet's seeding).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localaws.timescale import time_scale

ELB_DESCRIBE = (40.0, 10.0)  # tokens, refill per second
EC2_NON_MUTATING = (100.0, 20.0)
_EC2_READS = ("Describe", "Get", "List", "Search")


@dataclass(slots=True)
class TokenBucket:
    capacity: float
    refill_per_second: float
    tokens: float
    updated: float

    def take(self, now: float) -> bool:
        """Refill for the time passed, then take one token if there is one."""
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.refill_per_second)
        self.updated = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


def bucket_of(service: str, action: str) -> tuple[str, tuple[float, float]] | None:
    """The bucket an action draws from (its key within an account and region, and its
    size), or None when localaws does not meter it."""
    if service == "elbv2" and action.startswith("Describe"):
        return "elbv2:Describe*", ELB_DESCRIBE
    if service == "ec2" and action.startswith(_EC2_READS):
        return f"ec2:{action}", EC2_NON_MUTATING
    return None


class RequestMeter:
    """Every metered request takes a token; `admit` says whether it may run."""

    def __init__(self, enabled: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = enabled
        self._clock = clock
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def admit(self, account: str, region: str, service: str, action: str) -> bool:
        if not self.enabled:
            return True
        found = bucket_of(service, action)
        if found is None:
            return True
        name, (capacity, refill) = found
        with self._lock:
            now = self._clock()
            key = (account, region, name)
            bucket = self._buckets.get(key)
            if bucket is None:
                # AWS's refill per AWS second: faster locally under a time scale below 1.
                per_second = refill / time_scale()
                bucket = self._buckets[key] = TokenBucket(capacity, per_second, capacity, now)
            return bucket.take(now)

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()


def held_back(request_items: dict[str, Any], share: float) -> dict[str, Any]:
    """Take `share` of a BatchGetItem's keys out of `request_items` (changed in place) and
    return them as its `UnprocessedKeys`; at least one key of the call is always served,
    so a caller that asks again gets everything in the end."""
    if share <= 0:
        return {}
    total = sum(len(t.get("Keys", [])) for t in request_items.values())
    hold = min(total - 1, math.ceil(total * min(share, 1.0)))
    unprocessed: dict[str, Any] = {}
    for table, request in reversed(list(request_items.items())):
        keys = list(request.get("Keys", []))
        if hold <= 0 or not keys:
            continue
        n = min(hold, len(keys))
        request["Keys"] = keys[: len(keys) - n]
        unprocessed[table] = {
            **{k: v for k, v in request.items() if k != "Keys"},
            "Keys": keys[len(keys) - n :],
        }
        hold -= n
    for table in [t for t, r in request_items.items() if not r.get("Keys")]:
        del request_items[table]  # DynamoDB rejects a table with no keys
    return unprocessed
