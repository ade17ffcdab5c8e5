"""The two watches of a rollout: the gate (new instances healthy before a deadline) and the
bake (the group in traffic stays at capacity for a window). Both check abort at every tick.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rollout.deploy.health import LAUNCHING, group_view, health_reading, launch_hooks
from rollout.deploy.launch_failures import failed_launch
from rollout.errors import RolloutStop
from rollout.events import BakeProgress, GateProgress, InstanceUpdate
from rollout.ledger.vocabulary import StepName
from rollout.model import InstanceState, InstanceView, ServerGroup

if TYPE_CHECKING:
    from rollout.deploy.runner import Rollout


async def gate(r: Rollout, group: ServerGroup, wanted: int) -> None:
    """Return once `wanted` instances of `group` are `running` and `healthy` in its target
    group; raise RolloutStop at once on a boot phase `fail` reported for this app and this
    group's rollout (group_view ignores any other row) or a failed launch of the ASG (AWS's
    message), or when the deadline passes.

    An instance the ASG takes out (an ELB-checked ASG replaces one whose target is unhealthy
    past its grace period, with a new id) is no failure by itself: listed `Terminating` while
    it drains it counts neither as healthy nor as one of the group's instances, once out of
    `Instances[]` it is reported `terminated`, its replacement is watched as any member, and
    a gate that still fails at its deadline names the replaced instances and their last
    reading. A member detached (`Detaching`, `Detached`) leaves the same way but running (its
    last reading stays `running`, `Detached`; the reason names it apart), and a member on
    standby (`EnteringStandby`, `Standby`) is neither healthy nor one of the group's launches:
    the gate waits for the instances that count, and a short group is asked about its failed
    launches as without it."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    launched_since = _launched_since(r, group)
    deadline_s = r.settings.gate_deadline_seconds
    seen: dict[str, InstanceView] = {}
    last: list[InstanceView] = []
    replaced: dict[str, InstanceView] = {}
    detached: dict[str, InstanceView] = {}
    # Each member's last reading before it began to leave: once the ASG takes it out it is
    # deregistered (its target reads `draining`, then unregistered), so why it was replaced
    # is what it read before.
    standing: dict[str, InstanceView] = {}
    while True:
        await r.check_abort()
        views = await group_view(
            r.gw,
            group.name,
            group.target_group_arn,
            r.config.tables.instances,
            app=r.app,
            rollout_id=group.rollout_id,
        )
        if views is None:  # a transient AWS failure: no reading this tick, the last stands
            views = last
        else:
            members = {v.instance_id for v in views}
            for gone in [v for v in last if v.instance_id not in members]:
                before = standing.get(gone.instance_id, gone)
                (detached if gone.detached else replaced)[gone.instance_id] = before
                seen[gone.instance_id] = _left(gone)
                r.emit(InstanceUpdate, instance=seen[gone.instance_id])
            standing.update((v.instance_id, v) for v in views if not v.leaving)
            last = views
        for v in views:
            if seen.get(v.instance_id) != v:
                seen[v.instance_id] = v
                r.emit(InstanceUpdate, instance=v)
        failed = next((v for v in views if v.boot_failed), None)
        if failed is not None:
            raise RolloutStop(
                f"instance {failed.instance_id} failed its boot at {failed.phase or 'a phase'} "
                f"({failed.phase or 'boot'} fail): {failed.detail or 'no detail given'}"
            )
        # One leaving (Terminating, Detaching) or on standby is none of the group's launches.
        staying = sum(1 for v in views if not (v.leaving or v.on_standby))
        if staying < wanted:  # short of instances: did the ASG fail to launch one?
            why = await failed_launch(r.gw, group.name, launched_since)
            if why is not None:
                raise RolloutStop(f"the ASG {group.name} could not launch an instance: {why}")
        healthy = sum(1 for v in views if v.healthy)
        elapsed = loop.time() - start
        eta = max(0.0, r.boot_eta - elapsed) if r.boot_eta is not None else None
        r.emit(
            GateProgress,
            group=group.name,
            healthy=healthy,
            wanted=wanted,
            elapsed_seconds=elapsed,
            eta_seconds=eta,
            deadline_seconds=deadline_s,
        )
        if healthy >= wanted:
            return
        if elapsed > deadline_s:
            hooks = await _hooks_held_by(r, group, views)
            raise RolloutStop(
                f"gate deadline of {deadline_s:.0f} s passed with {healthy} of {wanted} "
                f"instances healthy: {_why(views, hooks)}{_replaced(replaced)}"
                f"{_detached(detached)}"
            )
        await asyncio.sleep(r.settings.poll_seconds)


def _launched_since(r: Rollout, group: ServerGroup) -> datetime:
    """From when the group's failed launches count: this rollout's launch step for the group
    it created, else (a retained group brought back to size) the gate's own start."""
    if r.new is not None and group.name == r.new.name:
        launch = next((s for s in r.steps if s.name == StepName.LAUNCH), None)
        started = launch.started if launch is not None else None
        if started is not None:
            return started
    return datetime.now(UTC)


def _left(view: InstanceView) -> InstanceView:
    """The last reading of an instance that left the group: `terminated`, as it goes, or,
    detached, still running and `Detached`."""
    if view.detached:
        return dataclasses.replace(view, lifecycle="Detached")
    return dataclasses.replace(view, state=InstanceState.TERMINATED)


def _replaced(replaced: dict[str, InstanceView]) -> str:
    """`; replaced by the ASG: …` naming (up to 3) instances that left the group, with the
    target health they last had before they began to leave (why an ELB-checked ASG replaced
    them)."""
    if not replaced:
        return ""
    parts = [f"{v.instance_id} (target {v.target_health})" for v in list(replaced.values())[-3:]]
    return f"; replaced by the ASG: {', '.join(parts)}"


def _detached(detached: dict[str, InstanceView]) -> str:
    """`; detached from the group: …` naming (up to 3) instances DetachInstances took out."""
    if not detached:
        return ""
    return f"; detached from the group: {', '.join(list(detached)[-3:])}"


async def _hooks_held_by(r: Rollout, group: ServerGroup, views: list[InstanceView]) -> list[str]:
    """The group's launch lifecycle hooks when one of `views` waits on them (`Pending:Wait`),
    else none (nor when AWS gave no reading: the reason then says "a launch lifecycle hook")."""
    if not any(v.waiting_on_hook for v in views):
        return []
    return await launch_hooks(r.gw, group.name) or []


def _why(views: list[InstanceView], hooks: list[str] | None = None) -> str:
    """Why the gate's unhealthy instances (up to 3, those that count toward the group's
    capacity first) are not healthy: EC2 state, the lifecycle state of one waiting on a hook,
    leaving or on standby, target health, the boot phase, and, when any waits in
    `Pending:Wait`, the launch lifecycle hook (of `hooks`, the group's) whose action nobody
    completed."""
    # The instances that count first: one leaving or on standby explains no shortfall.
    bad = sorted((v for v in views if not v.healthy), key=lambda v: v.leaving or v.on_standby)
    if not views:
        return "no instance was launched"
    parts = []
    for v in bad[:3]:
        boot = f", boot {v.phase} {v.phase_status}: {v.detail}".rstrip(": ") if v.phase else ""
        aside = v.waiting_on_hook or v.leaving or v.on_standby
        held = f" in {v.lifecycle}" if aside else ""
        parts.append(f"{v.instance_id} {v.state}{held}, target {v.target_health}{boot}")
    return "; ".join(parts) + _held(bad, hooks or [])


def _held(bad: list[InstanceView], hooks: list[str]) -> str:
    """`; N waiting on the lifecycle hook NAME …` when launch hooks hold instances of `bad`."""
    waiting = sum(1 for v in bad if v.waiting_on_hook)
    if not waiting:
        return ""
    named = ", ".join(hooks)
    which = (
        f"lifecycle hook{'s' if len(hooks) > 1 else ''} {named}" if hooks else "a lifecycle hook"
    )
    return (
        f"; {waiting} waiting on the {which} ({LAUNCHING}): nobody completed its lifecycle "
        "action (CompleteLifecycleAction CONTINUE puts an instance in service)"
    )


class Shortfall:
    """Readings of healthy targets, and whether a shortfall below `wanted` has lasted
    `polls` readings in a row (`polls` of at least 1)."""

    def __init__(self, wanted: int, polls: int) -> None:
        self.wanted = wanted
        self.polls = max(1, int(polls))
        self.in_a_row = 0

    def persists(self, healthy: int) -> bool:
        """Take one reading; True once `polls` readings in a row were short."""
        self.in_a_row = self.in_a_row + 1 if healthy < self.wanted else 0
        return self.in_a_row >= self.polls


async def watch(r: Rollout, group: ServerGroup, wanted: int, seconds: float, what: str) -> None:
    """Watch `group` for `seconds`: RolloutStop(rollback) when its healthy targets stay
    below `wanted` for `shortfall_polls` readings in a row, when the judge finds its traffic
    worse than the baseline's (or a named alarm fires), or when an abort (or rollback) is
    requested."""
    from rollout.judge.looks import judge_for, look

    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    judge = judge_for(r, group, what)
    shortfall = Shortfall(wanted, r.settings.shortfall_polls)
    while True:
        await r.check_abort()
        await look(r, judge, what)
        reading = await health_reading(r.gw, group.target_group_arn)
        remaining = max(0.0, end - loop.time())
        if reading is not None:  # None: a transient AWS failure, no reading this tick
            healthy, why = reading
            r.emit(
                BakeProgress,
                group=group.name,
                healthy=healthy,
                wanted=wanted,
                remaining_seconds=remaining,
            )
            if shortfall.persists(healthy):
                raise RolloutStop(
                    f"{group.name} fell to {healthy} of {wanted} healthy targets during the "
                    f"{what}" + (f": {why}" if why else ""),
                    rollback=True,
                )
        if remaining <= 0:
            return
        await asyncio.sleep(min(r.settings.poll_seconds, remaining))
