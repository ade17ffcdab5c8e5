"""The audit every fault case ends with: nothing orphaned, the lock free, the ledger
truthful, and no request dropped by the serving fleet.

`audit(fleet, load, state=..., reason=...)` fails the test with every problem it finds:
- no ASG, target group, instance or launch-template version outside the serving group,
  no listener entry at weight 0, no rollout left running or detached, the lock free
  (the rollout tests' `Fleet.leftovers()`);
- with `containers=`, no Docker container of an instance that is gone;
- the app's latest rollout in `state`, its reason containing `reason`;
- every request the load generator sent through the local ALB answered 200.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.e2e.load import Load, failures
from tests.rollout.conftest import Fleet

CLEANUP_WITHIN_SECONDS = 60.0


def audit(
    fleet: Fleet,
    load: Load | None,
    *,
    state: str | tuple[str, ...],
    reason: str = "",
    containers: Callable[[], dict[str, str]] | None = None,
) -> dict[str, object]:
    """Check the fleet after a case and return the app's latest rollout (see module doc)."""
    problems: list[str] = []
    # Terminated instances and their containers go asynchronously: wait, with a deadline.
    deadline = time.monotonic() + CLEANUP_WITHIN_SECONDS
    while True:
        left = fleet.leftovers() + _orphan_containers(fleet, containers)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    problems += left

    latest = fleet.latest()
    states = (state,) if isinstance(state, str) else state
    if latest["state"] not in states:
        problems.append(f"rollout {latest['rollout_id']} is {latest['state']}, not {states}")
    if reason not in str(latest.get("reason", "")):
        problems.append(f"rollout reason {latest.get('reason')!r} does not say {reason!r}")

    if load is not None:
        failed = failures(load.samples)
        if failed:
            problems.append(f"{len(failed)} of {len(load.samples)} requests failed: {failed[:3]}")
        if not load.samples:
            problems.append("the load generator sent nothing")

    assert not problems, "audit:\n  " + "\n  ".join(problems)
    return latest


def _orphan_containers(fleet: Fleet, containers: Callable[[], dict[str, str]] | None) -> list[str]:
    if containers is None:
        return []
    owned = {i for g in fleet.groups().values() for i in g["instances"]}
    return [
        f"container of {instance} ({release}) outlived its instance"
        for instance, release in containers().items()
        if instance not in owned
    ]
