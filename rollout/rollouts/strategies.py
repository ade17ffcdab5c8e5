"""The three ways to bring a new group into traffic (DESIGN §4), on the runner's steps.

- blue-green: the new group at full capacity, 100 % at the shift.
- canary: 1 instance; once healthy a small share for a watch period; then full capacity,
  the gate again, and 100 %.
- rolling: the new group grows in batches while the weights follow the healthy share and
  the old group shrinks by the same (the shape of an ASG instance refresh).

`continue_after_resume` picks a crashed or detached rollout up from its last recorded step.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rollout.events import RolloutResult
from rollout.rollouts.errors import RolloutStop
from rollout.rollouts.groups import GroupRef, describe_group
from rollout.rollouts.launch import set_capacity
from rollout.rollouts.plan import Capacity

if TYPE_CHECKING:
    from rollout.rollouts.runner import Rollout


async def run_strategy(r: Rollout) -> None:
    """Launch, gate and shift by the plan's strategy; returns with the new group at 100 %."""
    if r.plan.old_group is None or r.plan.strategy == "blue-green":
        await blue_green(r)
    elif r.plan.strategy == "canary":
        await canary(r)
    else:
        await rolling(r)


async def blue_green(r: Rollout) -> None:
    cap = r.plan.capacity
    async with r.step("launch", f"{r.plan.new_group}: {cap}"):
        new = await r.launch(cap)
    async with r.step("gate", f"{cap.desired} instances healthy"):
        await r.gate(new, cap.desired)
    await _full_shift(r, new)


async def _full_shift(r: Rollout, new: GroupRef) -> None:
    old = r.plan.old_group
    async with r.step("shift", f"{new.name} 100 %"):
        weights = {new.name: 100}
        if old is not None:
            weights[old.name] = 0  # kept in the listener so a flip back is one change
        await r.shift(weights, "cutover")


async def canary(r: Rollout) -> None:
    cap, old = r.plan.capacity, r.plan.old_group
    assert old is not None
    share = max(1, min(99, r.settings.canary_share_percent))
    one = Capacity(min_size=1, max_size=max(1, cap.max_size), desired=1)
    async with r.step("launch", f"{r.plan.new_group}: 1 canary instance"):
        new = await r.launch(one)
    async with r.step("gate", "the canary healthy"):
        await r.gate(new, 1)
    async with r.step("shift", f"canary {share} %"):
        await r.shift({new.name: share, old.name: 100 - share}, f"canary {share} %")
    watch_s = r.settings.canary_watch_seconds
    async with r.step("watch", f"{watch_s:.0f} s at {share} %"):
        from rollout.rollouts.watch import watch

        await watch(r, new, 1, watch_s, "canary watch")
    async with r.step("scale", f"{new.name}: {cap}"):
        await set_capacity(r.gw, new.name, cap)
        r.new = new = _with_capacity(new, cap)
        await r._save(new_group_ref=new.as_item())
    async with r.step("gate", f"{cap.desired} instances healthy"):
        await r.gate(new, cap.desired)
    await _full_shift(r, new)


async def rolling(r: Rollout) -> None:
    cap, old = r.plan.capacity, r.plan.old_group
    assert old is not None
    total = cap.desired
    batch = max(1, math.ceil(total * r.settings.rolling_batch_percent / 100))
    first = min(batch, total)
    async with r.step("launch", f"{r.plan.new_group}: first batch of {first}"):
        new = await r.launch(Capacity(0, max(cap.max_size, total), first))
    done = 0
    while done < total:
        size = min(total, done + batch)
        if size > first:
            async with r.step("scale", f"{new.name}: {size} of {total}"):
                grown = Capacity(0, max(cap.max_size, total), size)
                await set_capacity(r.gw, new.name, grown)
                r.new = new = _with_capacity(new, grown)
                await r._save(new_group_ref=new.as_item())
        async with r.step("gate", f"{size} instances healthy"):
            await r.gate(new, size)
        share = round(100 * size / total)
        async with r.step("shift", f"{new.name} {share} %"):
            await r.shift({new.name: share, old.name: 100 - share}, f"rolling {size}/{total}")
        async with r.step("shrink", f"{old.name}: {total - size} left"):
            await shrink(r, old, size - done)
        done = size
    r.new = new


def _with_capacity(group: GroupRef, cap: Capacity) -> GroupRef:
    from dataclasses import replace

    return replace(group, min_size=cap.min_size, max_size=cap.max_size, desired=cap.desired)


async def shrink(r: Rollout, old: GroupRef, count: int) -> None:
    """Take `count` instances out of the old group: deregistered first, then terminated."""
    asg = await describe_group(r.gw, old.name)
    live = [
        i["InstanceId"]
        for i in (asg or {}).get("Instances", [])
        if i.get("LifecycleState", "InService") in ("InService", "Pending")
    ]
    victims = live[:count]
    if not victims:
        return
    r.old_shrunk = True
    await r._save(old_shrunk=True)
    remaining = max(0, len(live) - len(victims))
    await r.gw.call(
        "autoscaling",
        "update_auto_scaling_group",
        AutoScalingGroupName=old.name,
        MinSize=min(old.min_size, remaining),
    )
    await r.gw.call(
        "elbv2",
        "deregister_targets",
        TargetGroupArn=old.target_group_arn,
        Targets=[{"Id": i} for i in victims],
    )
    for iid in victims:
        await r.gw.call(
            "autoscaling",
            "terminate_instance_in_auto_scaling_group",
            InstanceId=iid,
            ShouldDecrementDesiredCapacity=True,
        )


async def continue_after_resume(r: Rollout) -> RolloutResult | None:
    """Decide, from the ledger's steps, how a resumed rollout goes on.

    Returns a result when it ended here (cleaned up or flipped back); None when the caller
    should go on to the bake and retire.
    """
    weights = r.weights_history[-1] if r.weights_history else {}
    new = r.new
    if not r.shifted:
        launched = any(s["name"] == "launch" and s["status"] == "ok" for s in r.steps)
        if launched and new is not None and r.plan.strategy == "blue-green":
            async with r.step("gate", f"resumed: {r.plan.capacity.desired} instances healthy"):
                await r.gate(new, r.plan.capacity.desired)
            await _full_shift(r, new)
            return None
        raise RolloutStop("resumed before the shift: the unfinished server group is deleted")
    if new is None or weights.get(new.name, 0) < 100:
        raise RolloutStop("resumed part way into traffic: flipping back", rollback=True)
    if any(s["name"] == "retire" for s in r.steps):
        await r.retire()
        return await r._finish("succeeded", f"{new.release} serves; the old group is retired")
    return None
