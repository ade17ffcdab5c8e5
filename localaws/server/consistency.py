"""EC2's and ELB's eventual consistency: a resource just created is not yet known everywhere.

AWS documents it for EC2 ("Eventual consistency in the Amazon EC2 API",
https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html): an id that
RunInstances has just returned may answer `InvalidInstanceID.NotFound` to DescribeInstances
("this does not mean the instance does not exist"), and a security group CreateSecurityGroup
has just returned may answer `InvalidGroup.NotFound`. ELB shows the same after
CreateTargetGroup (`TargetGroupNotFound` to ModifyTargetGroupAttributes). Stock moto knows
every resource at once; localaws keeps each new one unknown to those calls for a window
(`[localaws]` `*_not_found_seconds`), so a client that does not back off fails here as on AWS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from localaws.timescale import scaled

INSTANCE = "instance"
TARGET_GROUP = "target group"
SECURITY_GROUP = "security group"


class Propagation:
    """When each new resource becomes visible; called from moto's request threads."""

    def __init__(self, timers: Any, clock: Callable[[], float] = time.monotonic) -> None:
        # AWS seconds in the config, local seconds here (localaws/timescale.py).
        self._windows = {
            INSTANCE: scaled(float(getattr(timers, "instance_not_found_seconds", 0.0))),
            TARGET_GROUP: scaled(float(getattr(timers, "target_group_not_found_seconds", 0.0))),
            SECURITY_GROUP: scaled(float(getattr(timers, "security_group_not_found_seconds", 0.0))),
        }
        self._clock = clock
        self._visible_at: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def created(self, kind: str, resource_id: str) -> None:
        """`resource_id` was just created: unknown to the documented calls for its window."""
        window = self._windows[kind]
        if window <= 0:
            return
        with self._lock:
            now = self._clock()
            self._visible_at[(kind, resource_id)] = now + window
            if len(self._visible_at) > 10_000:  # forget the long visible
                self._visible_at = {k: t for k, t in self._visible_at.items() if t > now}

    def unseen(self, kind: str, ids: Iterable[str]) -> list[str]:
        """The ids of `ids` still inside their window, in the order given."""
        with self._lock:
            if not self._visible_at:
                return []
            now = self._clock()
            return [i for i in ids if self._visible_at.get((kind, i), 0.0) > now]

    def clear(self) -> None:
        with self._lock:
            self._visible_at.clear()
