"""localaws's background loops (the health prober, the ALB metrics, the instances-table
writer): each runs as one asyncio task until its owner stops it."""

from __future__ import annotations

import asyncio
import contextlib


async def cancel_and_wait(task: asyncio.Task[None] | None) -> None:
    """Cancel `task` (None: nothing was started) and return once it has ended, its
    cancellation swallowed; an error it raised on the way out is raised here."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
