"""AWS's eventual consistency, waited out in one place (docs/ARCHITECTURE.md §4).

EC2 documents that a resource just created may answer NotFound for a while ("Eventual
consistency in the Amazon EC2 API": `InvalidInstanceID.NotFound` for an id RunInstances just
returned, "this does not mean the instance does not exist"; `InvalidGroup.NotFound` for a new
security group), and ELB answers `TargetGroupNotFound` to a target group created a moment
before. The SDK's retries do not cover these codes. Calls on a resource the caller has just
created go through `after_create`; reads of instance states by id go through
`instance_states`, which leaves out the ids EC2 does not know yet.
"""

from __future__ import annotations

import asyncio
import random
import re
from typing import Any

from rollout.aws.gateway import AwsError, Gateway

NOT_YET_VISIBLE = frozenset(
    {"InvalidInstanceID.NotFound", "TargetGroupNotFound", "InvalidGroup.NotFound"}
)
# Long enough for AWS's propagation (seconds, rarely a minute); bounded, so a resource
# that is really gone still fails the call.
VISIBLE_WITHIN_SECONDS = 60.0
_FIRST_WAIT, _LONGEST_WAIT = 0.25, 5.0
_INSTANCE_ID = re.compile(r"\bi-[0-9a-f]+\b")
_BATCH = 100  # DescribeInstanceStatus takes at most 100 ids


async def after_create(
    gw: Gateway,
    service: str,
    operation: str,
    *,
    within: float = VISIBLE_WITHIN_SECONDS,
    **params: Any,
) -> dict[str, Any]:
    """`gw.call(service, operation, **params)` on a resource created just before: a
    not-yet-visible NotFound (`NOT_YET_VISIBLE`) is retried with jittered exponential backoff
    for `within` seconds, then raised as it came. Any other error is raised at once."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + within
    wait = _FIRST_WAIT
    while True:
        try:
            return await gw.call(service, operation, **params)
        except AwsError as exc:
            if exc.code not in NOT_YET_VISIBLE or loop.time() + wait > give_up:
                raise
        await asyncio.sleep(wait * random.uniform(0.5, 1.0))
        wait = min(wait * 2, _LONGEST_WAIT)


async def instance_states(
    gw: Gateway, ids: list[str], *, states: tuple[str, ...] = ()
) -> dict[str, str]:
    """Instance id -> EC2 state name for the ids EC2 already knows (DescribeInstanceStatus
    by id, 100 a call, `IncludeAllInstances`; only those in `states` when given).

    An id EC2 does not know yet fails its whole call with `InvalidInstanceID.NotFound`; the
    call is made again without the ids the error names, and those are left out of the
    answer: the caller counts them as still launching.
    """
    found: dict[str, str] = {}
    params: dict[str, Any] = {"IncludeAllInstances": True}
    if states:
        params["Filters"] = [{"Name": "instance-state-name", "Values": list(states)}]
    for start in range(0, len(ids), _BATCH):
        batch = ids[start : start + _BATCH]
        while batch:
            try:
                got = await gw.call("ec2", "describe_instance_status", InstanceIds=batch, **params)
            except AwsError as exc:
                if exc.code != "InvalidInstanceID.NotFound":
                    raise
                unknown = set(_INSTANCE_ID.findall(str(exc))) & set(batch)
                # An error naming none of them: none of this batch is known yet.
                batch = [i for i in batch if i not in unknown] if unknown else []
                continue
            for status in got.get("InstanceStatuses", []):
                found[status["InstanceId"]] = status["InstanceState"]["Name"]
            break
    return found
