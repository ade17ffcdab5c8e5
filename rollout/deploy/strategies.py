"""The three ways to bring a new group into traffic (ARCHITECTURE §4), on the steps protocol.

- blue-green: the new group at full capacity, 100 % at the shift.
- canary: 1 instance; once healthy a small share for a watch period; then full capacity,
  the gate again, and 100 %.
- rolling: the new group grows in batches while the weights follow the healthy share and
  the old group shrinks by the same (the shape of an ASG instance refresh).

`continue_after_resume` picks a crashed or detached rollout up from its last recorded step.
A canary goes on with the rest of its watch (or from its gate), a rolling rollout with its
remaining batches, recomputed from AWS; what does not reconcile is undone.

Each runs on a `RolloutSteps` (`rollout.deploy.steps`), which the runner implements: a
strategy records nothing itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

from rollout.deploy.steps import RolloutSteps
from rollout.errors import RolloutStop
from rollout.events import RolloutResult
from rollout.ledger.timestamps import seconds_left
from rollout.ledger.vocabulary import RolloutState, StepName, Strategy
from rollout.model import Capacity, ServerGroup


async def run_strategy(r: RolloutSteps) -> None:
    """Launch, gate and shift by the plan's strategy; returns with the new group at 100 %."""
    if r.plan.old_group is None or r.plan.strategy == Strategy.BLUE_GREEN:
        await blue_green(r)
    elif r.plan.strategy == Strategy.CANARY:
        await canary(r)
    else:
        await rolling(r)


async def blue_green(r: RolloutSteps) -> None:
    cap = r.plan.capacity
    async with r.step(StepName.LAUNCH, f"{r.plan.new_group}: {cap}"):
        new = await r.launch(cap)
    async with r.step(StepName.GATE, f"{cap.desired} instances healthy"):
        await r.gate(new, cap.desired)
    await _full_shift(r, new)


async def _full_shift(r: RolloutSteps, new: ServerGroup) -> None:
    old = r.plan.old_group
    async with r.step(StepName.SHIFT, f"{new.name} 100 %"):
        weights = {new.name: 100}
        if old is not None:
            weights[old.name] = 0  # kept in the listener so a flip back is one change
        await r.shift(weights, "cutover")


async def canary(r: RolloutSteps) -> None:
    cap = r.plan.capacity
    one = Capacity(min_size=1, max_size=max(1, cap.max_size), desired=1)
    async with r.step(StepName.LAUNCH, f"{r.plan.new_group}: 1 canary instance"):
        new = await r.launch(one)
    await _canary_from_gate(r, new)


def _canary_share(r: RolloutSteps) -> int:
    return max(1, min(99, r.settings.canary_share_percent))


async def _canary_from_gate(r: RolloutSteps, new: ServerGroup, resumed: str = "") -> None:
    """The canary instance launched: gate it, give it its share, then `_canary_rest`."""
    old = r.plan.old_group
    assert old is not None
    share = _canary_share(r)
    async with r.step(StepName.GATE, f"{resumed}the canary healthy"):
        await r.gate(new, 1)
    async with r.step(StepName.SHIFT, f"canary {share} %"):
        await r.shift({new.name: share, old.name: 100 - share}, f"canary {share} %")
    await _canary_rest(r, new, share, r.settings.canary_watch_seconds)


async def _canary_rest(
    r: RolloutSteps, new: ServerGroup, share: int, watch_s: float | None, resumed: str = ""
) -> None:
    """The canary at `share`: watch it `watch_s` seconds (None: the watch is over), then
    full capacity, the gate, and 100 %."""
    cap = r.plan.capacity
    if watch_s is not None:
        async with r.step(StepName.WATCH, f"{resumed}{watch_s:.0f} s at {share} %"):
            await r.watch(new, 1, watch_s, "canary watch")
    async with r.step(StepName.SCALE, f"{new.name}: {cap}"):
        new = await r.scale(new, cap)
    async with r.step(StepName.GATE, f"{cap.desired} instances healthy"):
        await r.gate(new, cap.desired)
    await _full_shift(r, new)


def _rolling_shape(r: RolloutSteps) -> tuple[int, int, int]:
    """(total, batch, max size) of a rolling rollout."""
    total = r.plan.capacity.desired
    batch = max(1, math.ceil(total * r.settings.rolling_batch_percent / 100))
    return total, batch, max(r.plan.capacity.max_size, total)


async def rolling(r: RolloutSteps) -> None:
    total, batch, top = _rolling_shape(r)
    first = min(batch, total)
    async with r.step(StepName.LAUNCH, f"{r.plan.new_group}: first batch of {first}"):
        new = await r.launch(Capacity(0, top, first))
    await _rolling_batches(r, new, 0)


async def _rolling_batches(r: RolloutSteps, new: ServerGroup, done: int) -> None:
    """The batches after the first `done` instances took their share (and the old group
    shrank by as many): grow, gate, shift, shrink until the new group has everything."""
    old = r.plan.old_group
    assert old is not None
    total, batch, top = _rolling_shape(r)
    while done < total:
        size = min(total, done + batch)
        if size > new.capacity.desired:
            async with r.step(StepName.SCALE, f"{new.name}: {size} of {total}"):
                new = await r.scale(new, Capacity(0, top, size))
        async with r.step(StepName.GATE, f"{size} instances healthy"):
            await r.gate(new, size)
        share = round(100 * size / total)
        async with r.step(StepName.SHIFT, f"{new.name} {share} %"):
            await r.shift({new.name: share, old.name: 100 - share}, f"rolling {size}/{total}")
        async with r.step(StepName.SHRINK, f"{old.name}: {total - size} left"):
            await r.shrink(old, size - done)
        done = size


async def continue_after_resume(r: RolloutSteps) -> RolloutResult | None:
    """Decide, from the ledger's steps and what AWS holds now, how a resumed rollout goes on.

    A blue-green rollout resumed before its shift is gated and shifted; a canary or rolling
    one resumed after its launch, before 100 %, goes on from its last step (see
    `_resume_part_way`). Whatever the ledger and AWS cannot reconcile is undone: the new
    group deleted before the shift, traffic flipped back after it, with the reason.
    Returns a result when it ended here (cleaned up or flipped back); None when the caller
    should go on to the bake and retire.
    """
    weights: Mapping[str, int] = r.weights_history[-1] if r.weights_history else {}
    new = r.new
    launched = any(s.name == StepName.LAUNCH and s.ok for s in r.steps)
    part_way = new is None or weights.get(new.name, 0) < 100
    if (
        part_way
        and launched
        and new is not None
        and r.plan.old_group is not None
        and r.plan.strategy in (Strategy.CANARY, Strategy.ROLLING)
    ):
        await _resume_part_way(r, new, weights)
        return None
    if not r.shifted:
        if launched and new is not None and r.plan.strategy == Strategy.BLUE_GREEN:
            async with r.step(
                StepName.GATE, f"resumed: {r.plan.capacity.desired} instances healthy"
            ):
                await r.gate(new, r.plan.capacity.desired)
            await _full_shift(r, new)
            return None
        raise RolloutStop("resumed before the shift: the unfinished server group is deleted")
    if part_way:
        raise RolloutStop("resumed part way into traffic: flipping back", rollback=True)
    assert new is not None
    if any(s.name == StepName.RETIRE for s in r.steps):
        await r.retire()
        return await r.finish(
            RolloutState.SUCCEEDED, f"{new.release} serves; the old group is retired"
        )
    return None


def _cannot_resume(r: RolloutSteps, why: str) -> RolloutStop:
    if r.shifted:
        return RolloutStop(
            f"resumed part way into traffic, but {why}: flipping back", rollback=True
        )
    return RolloutStop(
        f"resumed before the shift, but {why}: the unfinished server group is deleted"
    )


async def _resume_part_way(r: RolloutSteps, new: ServerGroup, weights: Mapping[str, int]) -> None:
    """Go on with a canary or rolling rollout from where the ledger and AWS say it stands;
    RolloutStop (flip back, or delete the new group) when they do not agree on a step."""
    old = r.plan.old_group
    assert old is not None
    if any(s.name in (StepName.ROLLBACK, StepName.CLEANUP) for s in r.steps):
        raise _cannot_resume(r, "it was already being undone")
    new_now = await r.group_now(new)
    old_now = await r.group_now(old)
    if new_now is None or old_now is None:
        gone = " and ".join(g.name for g, a in ((new, new_now), (old, old_now)) if a is None)
        raise _cannot_resume(r, f"the group {gone} is gone")
    share = weights.get(new.name, 0)
    if r.shifted and (share <= 0 or weights.get(old.name, 0) != 100 - share):
        raise _cannot_resume(r, f"the listener's weights {dict(weights)} match no step")
    new = replace(new, capacity=new_now.capacity)
    await r.record_group(new)
    if r.plan.strategy == Strategy.CANARY:
        await _resume_canary(r, new, share, weights)
    else:
        await _resume_rolling(r, new, share, list(old_now.live))


async def _resume_canary(
    r: RolloutSteps, new: ServerGroup, share: int, weights: Mapping[str, int]
) -> None:
    if share == 0:
        await _canary_from_gate(r, new, "resumed: ")
        return
    recorded = {w.get(new.name, 0) for w in r.weights_history[:-1]}
    if share != _canary_share(r) and share not in recorded:
        raise _cannot_resume(r, f"the listener's weights {dict(weights)} match no canary step")
    watch_s = r.settings.canary_watch_seconds
    watches = [s for s in r.steps if s.name == StepName.WATCH]
    if watches and watches[-1].ok:
        left: float | None = None  # watched in full: on to full capacity
    elif watches:
        left = seconds_left(watches[-1].started_at, watch_s)
    else:
        left = watch_s
    await _canary_rest(r, new, share, left, "resumed: ")


async def _resume_rolling(
    r: RolloutSteps, new: ServerGroup, share: int, old_live: list[str]
) -> None:
    old = r.plan.old_group
    assert old is not None
    total, batch, _ = _rolling_shape(r)
    sizes = {
        round(100 * min(total, k * batch) / total): min(total, k * batch)
        for k in range(1, math.ceil(total / batch) + 1)
    }
    if share and share not in sizes:
        raise _cannot_resume(r, f"{new.name} at {share} % matches no batch of {total}")
    done = sizes[share] if share else 0
    if new.capacity.desired < done:
        raise _cannot_resume(r, f"{new.name} holds {new.capacity.desired} instances at {share} %")
    extra = len(old_live) - (total - done)
    healthy = await r.healthy(new)
    detail = (
        f"resumed at {done} of {total} ({healthy} healthy in {new.name}), "
        f"{old.name}: {total - done} left"
    )
    if extra > 0:
        async with r.step(StepName.SHRINK, detail):
            await r.shrink(old, extra)
    await _rolling_batches(r, new, done)
