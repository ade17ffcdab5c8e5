"""The rollout state machine (ARCHITECTURE §4): plan → launch → gate → shift → bake → retire.

Every step is written to the ledger before and after it runs. Before the shift, any failure,
abort or interruption deletes the new server group (the old fleet was never touched); after
it, the listener flips back to the retained group in one change, and only onto a group that is
fully healthy; once retire has begun the old group is never flipped back to (a failed retire
leaves the new group serving and the rollout `detached` for `resume` to finish the retire).
The runner never prints:
faces read `events()` and the `RolloutResult` that `run()` returns.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from rollout.aws.gateway import AwsError, Gateway, translated
from rollout.config import Config
from rollout.deploy import launch as launching
from rollout.deploy.health import healthy_count
from rollout.deploy.plan import RolloutPlan
from rollout.deploy.steps import GroupNow
from rollout.deploy.strategies import continue_after_resume, run_strategy
from rollout.deploy.watch import gate, watch
from rollout.errors import KeepServing, LeaseLost, RolloutStop
from rollout.events import (
    EventStream,
    Notice,
    RolloutEvent,
    RolloutFailed,
    RolloutFinished,
    RolloutResult,
    StepFinished,
    StepStarted,
    WeightsChanged,
)
from rollout.fleet.groups import delete_server_group, describe_group
from rollout.fleet.records import capacity_of
from rollout.fleet.traffic import TrafficPoint, read_weights, set_weights
from rollout.ledger.lease import DeployLock
from rollout.ledger.rollout_item import Step
from rollout.ledger.rollouts import RolloutLedger, utc_now
from rollout.ledger.timestamps import seconds_left
from rollout.ledger.vocabulary import RolloutState, StepName, StepStatus
from rollout.model import Capacity
from rollout.model import ServerGroup as ServerGroup
from rollout.notify.relay import NotificationRelay
from rollout.notify.settings import notifiers_for

LOST = "lost"  # a RolloutResult's state when this process lost the lease (not a ledger state)


class Rollout:
    """One rollout of an app, run by `run()`; `events()` streams what happens.

    It implements the steps protocol the strategies run on (`rollout.deploy.steps`).
    """

    def __init__(
        self,
        gw: Gateway,
        config: Config,
        plan: RolloutPlan,
        lock: DeployLock | None,
        *,
        no_wait: bool = False,
        owner: str = "",
    ) -> None:
        # Every mutating AWS call of a step first checks the lease (`_fence_call`); the
        # ledger's writes are fenced by their own conditions, so they use `gw` itself.
        self.gw = gw.guarded(self._fence_call)
        self.config = config
        self.settings = config.rollout
        self.plan = plan
        self.lock = lock
        self.no_wait = no_wait
        self.owner = owner or (lock.owner if lock else "")
        self.ledger = RolloutLedger(gw, config.tables.rollouts)
        self.stream = EventStream()
        self.steps: list[Step] = []
        self.weights_history: list[dict[str, int]] = []
        self.new: ServerGroup | None = None
        self.created: dict[str, str] = {}  # what exists of the new group: lt version, tg, asg
        self.shifted = False  # the new group has had traffic
        self.old_shrunk = False  # rolling: the old group lost instances
        self.boot_eta: float | None = None
        self.resumed = False
        self.unwinding = False  # undoing: abort requests no longer stop anything
        self.retiring = False  # the old group is leaving: never flip back to it
        self.detaching = False  # set by detach(): a cancellation leaves it for `resume`
        self.relay = NotificationRelay(
            gw,
            notifiers_for(config.notify, plan.app),
            plan,
            self.ledger,
            owner=self.owner,
            emit=self._notify_warning,
            fence=self._fence,
        )

    # -- what the faces use ------------------------------------------------------------

    @property
    def app(self) -> str:
        return self.plan.app

    @property
    def rollout_id(self) -> str:
        return self.plan.rollout_id

    def events(self, *, replay: bool = True) -> AsyncIterator[RolloutEvent]:
        """Every event of this rollout until it ends (with `replay`, the earlier ones first)."""
        return self.stream.subscribe(replay=replay)

    def emit(self, kind: type[RolloutEvent], **fields: Any) -> None:
        event = kind(app=self.app, rollout_id=self.rollout_id, **fields)
        self.stream.emit(event)
        self.relay.observe(event)

    def _notify_warning(self, message: str) -> None:
        self.emit(Notice, message=message, level="warning", source="notify")

    def detach(self) -> None:
        """Make the next cancellation of `run()` leave the rollout `detached` where it stands
        (no cleanup, no flip back) for `resume` or `rollback`: a console quitting mid-way.
        The caller then cancels the task running `run()`."""
        self.detaching = True

    async def run(self) -> RolloutResult:
        """Run (or, when resumed, continue) the rollout to its end and say how it ended.

        Cancellation (Ctrl-C) before the shift deletes the new group and re-raises; after
        the shift the rollout is left `detached` for `resume` or `rollback`.
        """
        try:
            try:
                return await self._run()
            except LeaseLost as lost:
                return self._lost(lost.reason)
        finally:
            await asyncio.shield(self.relay.drain())
            self.stream.close()

    async def _run(self) -> RolloutResult:
        try:
            if self.resumed:
                finished = await continue_after_resume(self)
                if finished is not None:
                    return finished
            else:
                await self._start()
                await run_strategy(self)
            if self.no_wait:
                return await self.finish(
                    RolloutState.DETACHED, "in traffic; the bake is left to `freshfleet resume`"
                )
            await self.bake_and_retire()
            return await self.finish(
                RolloutState.SUCCEEDED,
                f"{self.plan.release.version} serves; the old group is retired",
            )
        except RolloutStop as stop:
            if self.retiring:
                return await self._retire_failed(stop.reason)
            return await self.unwind(stop.reason, aborted=stop.aborted)
        except AwsError as exc:
            if self.retiring:
                return await self._retire_failed(str(exc))
            return await self.unwind(str(exc), aborted=False)
        except asyncio.CancelledError:
            await asyncio.shield(self._interrupted())
            raise

    def _lost(self, reason: str) -> RolloutResult:
        """The end of a rollout whose lease was lost: nothing undone, nothing written."""
        step = next((s.name for s in reversed(self.steps) if not s.ok), "")
        outcome = (
            "this process lost the deploy lock and stopped before its next step; "
            "it changed nothing more (the lock's holder, if any, drives the rollout now)"
        )
        self.emit(RolloutFailed, step=step, reason=reason)
        self.emit(RolloutFinished, state=LOST, outcome=outcome)
        return self._result(LOST, outcome, reason, step)

    # -- steps --------------------------------------------------------------------------

    @asynccontextmanager
    async def step(self, name: StepName, detail: str = "") -> AsyncIterator[Step]:
        """Check abort, record the step as running, then as ok / failed / aborted /
        interrupted (the detail it ends with is the entry's, which the body may change)."""
        await self.check_abort()
        entry = Step(name, StepStatus.RUNNING, started_at=utc_now(), detail=detail)
        self.steps.append(entry)
        await self._save(current_step=str(name))
        self.emit(StepStarted, step=str(name), detail=detail)
        try:
            yield entry
        except RolloutStop as stop:
            status = StepStatus.ABORTED if stop.aborted else StepStatus.FAILED
            await self._end_step(entry, status, stop.reason)
            raise
        except AwsError as exc:
            await self._end_step(entry, StepStatus.FAILED, str(exc))
            raise
        except asyncio.CancelledError:
            await asyncio.shield(self._end_step(entry, StepStatus.INTERRUPTED, "interrupted"))
            raise
        await self._end_step(entry, StepStatus.OK, entry.detail)

    async def _end_step(self, entry: Step, status: StepStatus, detail: str) -> None:
        entry.status, entry.finished_at, entry.detail = str(status), utc_now(), detail
        await self._save()
        self.emit(StepFinished, step=str(entry.name), status=str(status), detail=detail)

    async def _save(self, **fields: object) -> None:
        await self._write(steps=[s.as_item() for s in self.steps], **fields)

    def _fence(self) -> tuple[str, int] | None:
        """The (owner, lock generation) this process's ledger writes are conditioned on;
        None when it drives the rollout without a lease."""
        lock = self.lock
        return (self.owner, lock.generation) if lock is not None and lock.generation else None

    async def _fence_call(self, service: str, operation: str) -> None:
        """Before each mutating AWS call: LeaseLost, and the call never sent, once this
        process no longer holds its lease (a consistent read of the lock)."""
        await self.check_lease()

    async def _write(self, **fields: object) -> None:
        """Update the rollout's item, fenced on this process's lease (owner and generation):
        LeaseLost, with nothing written, once another process has taken the rollout over."""
        lock = self.lock
        if not await self.ledger.update(self.app, self.rollout_id, fence=self._fence(), **fields):
            assert lock is not None
            await lock.verify()
            raise LeaseLost(
                lock.lost_reason or f"rollout {self.rollout_id} is now driven by another owner"
            )

    async def check_lease(self) -> None:
        """Raise LeaseLost when this process no longer holds the app's deploy lock (the
        heartbeat found it taken, or a consistent read says so)."""
        if self.lock is not None and not await self.lock.verify():
            raise LeaseLost(self.lock.lost_reason)

    async def check_abort(self) -> None:
        """Raise LeaseLost when the lock was lost, RolloutStop when an abort (or rollback)
        was requested: before every step and at every poll of a gate or watch."""
        await self.check_lease()
        if self.unwinding:
            return
        requested, by, action = await self.ledger.abort_request(self.app, self.rollout_id)
        if requested:
            raise RolloutStop(
                f"{action} requested by {by or 'someone'}",
                aborted=True,
                rollback=action == "rollback",
            )

    async def _start(self) -> None:
        self.boot_eta = self.plan.expected_boot_seconds
        now = utc_now()
        # What the plan changes; what it keeps as it was is in the plan the faces showed.
        detail = "; ".join(
            f"{c.what}: {c.before} -> {c.after}"
            for c in self.plan.diff()
            if c.before and c.before != c.after
        )
        self.steps = [Step(StepName.PLAN, StepStatus.OK, now, now, detail)]
        item = self.plan.started_item(
            owner=self.owner,
            lock_generation=self.lock.generation if self.lock else 0,
            at=now,
            steps=tuple(self.steps),
        )
        await self.ledger.put(item.as_item())
        self.emit(StepStarted, step=str(StepName.PLAN), detail=detail)
        self.emit(StepFinished, step=str(StepName.PLAN), status=str(StepStatus.OK), detail=detail)

    # -- building blocks the strategies use --------------------------------------------------

    async def launch(self, capacity: Capacity) -> ServerGroup:
        """Create the new server group, recording each resource as soon as it exists."""
        plan = self.plan
        version = await launching.create_template_version(self.gw, plan)
        self.created["launch_template_version"] = version
        await self._save(created=self.created, launch_template_version=version)
        tg = await launching.create_target_group(self.gw, plan)
        self.created["target_group_arn"] = tg
        await self._save(created=self.created)
        await self.join_listener(tg)
        self.created["asg"] = plan.new_group
        await self._save(created=self.created)
        new = await launching.create_group(self.gw, plan, tg, version, capacity)
        await self.record_group(new)
        return new

    async def gate(self, group: ServerGroup, wanted: int) -> None:
        """Return once `wanted` instances of `group` are healthy (the new group joins the
        listener at weight 0 first, so ELB checks it); RolloutStop otherwise."""
        if group is self.new and not self.shifted:
            await self.join_listener(group.target_group_arn)  # a resumed rollout too
        await gate(self, group, wanted)

    async def watch(self, group: ServerGroup, wanted: int, seconds: float, what: str) -> None:
        """Watch `group` in traffic for `seconds` (`rollout.deploy.watch.watch`)."""
        await watch(self, group, wanted, seconds, what)

    async def scale(self, group: ServerGroup, capacity: Capacity) -> ServerGroup:
        """Set the new group's capacity in AWS; the group at that capacity, recorded."""
        await launching.set_capacity(self.gw, group.name, capacity)
        resized = replace(group, capacity=capacity)
        await self.record_group(resized)
        return resized

    async def record_group(self, group: ServerGroup) -> None:
        """Keep `group` as the new group and write it to the item (`new_group_ref`)."""
        self.new = group
        await self._save(new_group_ref=group.as_item())

    async def group_now(self, group: ServerGroup) -> GroupNow | None:
        """The group's capacity and live instances as AWS holds them; None when it is gone."""
        asg = await describe_group(self.gw, group.name)
        if asg is None:
            return None
        capacity = capacity_of(asg, fallback=group.capacity)
        return GroupNow(capacity, tuple(_live_instances(asg)))

    async def healthy(self, group: ServerGroup) -> int:
        """How many of the group's targets are healthy now."""
        healthy, _ = await healthy_count(self.gw, group.target_group_arn)
        return healthy

    async def shrink(self, group: ServerGroup, count: int) -> None:
        """Take `count` instances out of the old group: deregistered first, then terminated."""
        live = _live_instances(await describe_group(self.gw, group.name))
        victims = live[:count]
        if not victims:
            return
        self.old_shrunk = True
        await self._save(old_shrunk=True)
        remaining = max(0, len(live) - len(victims))
        asg, elb = await self.gw.autoscaling(), await self.gw.elbv2()
        with translated("autoscaling", "update_auto_scaling_group"):
            await asg.update_auto_scaling_group(
                AutoScalingGroupName=group.name, MinSize=min(group.capacity.min_size, remaining)
            )
        with translated("elbv2", "deregister_targets"):
            await elb.deregister_targets(
                TargetGroupArn=group.target_group_arn, Targets=[{"Id": i} for i in victims]
            )
        for iid in victims:
            with translated("autoscaling", "terminate_instance_in_auto_scaling_group"):
                await asg.terminate_instance_in_auto_scaling_group(
                    InstanceId=iid, ShouldDecrementDesiredCapacity=True
                )

    async def join_listener(self, target_group_arn: str) -> None:
        """Put the new target group in the app's forward action at weight 0, every other
        group's weight unchanged: ELB health-checks only the target groups a listener or
        rule forwards to (docs/ARCHITECTURE.md §4, step 2). Nothing when it is there."""
        weights = await read_weights(self.gw, self.plan.traffic)
        if target_group_arn not in weights:
            await self._set_listener(
                {**weights, target_group_arn: 0}, "the new group joins at 0 %: ELB checks it"
            )

    async def leave_listener(self, target_group_arn: str) -> None:
        """Take a target group out of the app's forward action, the others' weights
        unchanged (its targets then turn `unused`, and it can be deleted). Nothing when it
        is not there; with no group left, the listener answers 503 as before the first deploy."""
        weights = await read_weights(self.gw, self.plan.traffic)
        if target_group_arn in weights:
            rest = {a: w for a, w in weights.items() if a != target_group_arn}
            await self._set_listener(rest, "the new group leaves the listener")

    async def shift(self, weights: Mapping[str, int], why: str) -> None:
        """ONE listener change to these weights (by group name)."""
        names = {g.name: g.target_group_arn for g in (self.plan.old_group, self.new) if g}
        await self._set_listener({names[n]: w for n, w in weights.items() if n in names}, why)

    async def _set_listener(self, by_arn: Mapping[str, int], why: str) -> None:
        """ONE listener change to these weights (by target group ARN), recorded by name."""
        if by_arn:
            await set_weights(self.gw, self.plan.traffic, by_arn)
        else:
            await _answer_503(self.gw, self.plan.traffic)
        names = {g.target_group_arn: g.name for g in (self.plan.old_group, self.new) if g}
        if self.created.get("target_group_arn"):
            names.setdefault(self.created["target_group_arn"], self.plan.new_group)
        weights = {names.get(a, a): int(w) for a, w in by_arn.items()}
        if self.new and weights.get(self.new.name, 0) > 0:
            self.shifted = True
        record = dict(weights)
        self.weights_history.append(record)
        await self._save(
            weights=record,
            weights_history=[{"at": utc_now(), "weights": w} for w in self.weights_history],
            shifted=self.shifted,
        )
        self.emit(WeightsChanged, weights=record, why=why)

    async def bake_and_retire(self) -> None:
        """The bake (a resumed one for what is left of it), then the retire."""
        assert self.new is not None
        started = next(
            (s for s in reversed(self.steps) if s.name == StepName.BAKE and not s.ok), None
        )
        seconds = self.plan.bake_seconds
        if started is not None and self.resumed:
            seconds = seconds_left(started.started_at, seconds)
        async with self.step(StepName.BAKE, f"{seconds:.0f} s watching {self.new.name}"):
            await watch(self, self.new, self.plan.capacity.desired, seconds, "bake")
        await self.retire()

    async def retire(self) -> None:
        """Take the old group out of the listener, then delete it (ASG, TG, template version)."""
        old, new = self.plan.old_group, self.new
        assert new is not None
        async with self.step(StepName.RETIRE, old.name if old else "nothing to retire"):
            self.retiring = True
            await self.shift({new.name: 100}, "the old group leaves the listener")
            if old is not None:
                await self._delete(
                    old.name, old.target_group_arn, old.launch_template, old.launch_template_version
                )

    async def _delete(self, asg: str, target_group: str, template: str, version: str) -> None:
        """Delete a server group's parts (`delete_server_group`; "" skips one), its waits and
        its warnings told as notices."""
        warnings = await delete_server_group(
            self.gw,
            asg_name=asg,
            target_group_arn=target_group,
            launch_template=template,
            launch_template_version=version,
            on_wait=self._held_back,
        )
        for w in warnings:
            self.emit(Notice, message=w, level="warning")

    # -- endings ------------------------------------------------------------------------------

    async def unwind(self, reason: str, *, aborted: bool) -> RolloutResult:
        """Undo what this rollout did: before the shift delete the new group; after it flip
        the listener back to the old group (restoring its capacity first if it shrank)."""
        self.unwinding = True
        failed_step = next((s.name for s in reversed(self.steps) if not s.ok), "")
        self.emit(RolloutFailed, step=failed_step, reason=reason)
        old = self.plan.old_group
        try:
            if self.shifted and old is not None:
                async with self.step(StepName.ROLLBACK, f"traffic back to {old.name}"):
                    if self.old_shrunk:
                        await launching.set_capacity(self.gw, old.name, old.capacity)
                        await self.gate(old, old.capacity.desired)
                    await self._fully_healthy(old)
                    weights = {old.name: 100}
                    if self.new:
                        weights[self.new.name] = 0
                    await self.shift(weights, "flip back")
                    await self.shift({old.name: 100}, "the new group leaves the listener")
                    await self._delete_new()
                    await launching.restore_retained(self.gw, self.plan)
                return await self.finish(
                    RolloutState.ROLLED_BACK, f"{old.release} serves again", reason
                )
            if self.shifted:
                return await self.finish(
                    RolloutState.FAILED, "no older group to flip back to", reason
                )
            async with self.step(StepName.CLEANUP, "delete the new server group"):
                await self._delete_new()
                await launching.restore_retained(self.gw, self.plan)
        except KeepServing as stay:
            assert self.new is not None
            return await self.finish(
                RolloutState.DETACHED,
                f"{self.new.release} keeps serving: {stay}, so traffic was not flipped back; "
                f"`freshfleet rollback {self.app}` flips back once it is healthy, "
                f"`freshfleet resume {self.app}` keeps the release",
                f"{reason}; not flipped back: {stay}",
            )
        except (RolloutStop, AwsError) as exc:
            return await self.finish(RolloutState.FAILED, f"cleanup failed: {exc}", reason)
        state = RolloutState.ABORTED if aborted else RolloutState.FAILED
        return await self.finish(state, "the new server group was deleted; nothing changed", reason)

    async def _fully_healthy(self, group: ServerGroup) -> None:
        """RolloutStop(keep_serving) unless every target `group` should have is healthy: a
        flip back never moves traffic onto a group that cannot take it all."""
        healthy, why = await healthy_count(self.gw, group.target_group_arn)
        if healthy < group.capacity.desired:
            raise KeepServing(
                f"{group.name} has {healthy} of {group.capacity.desired} healthy targets"
                + (f" ({why})" if why else "")
            )

    async def _retire_failed(self, reason: str) -> RolloutResult:
        """The retire stopped part way: the new group keeps serving (never a flip back onto a
        group being deleted) and the rollout is left for `resume`, which retries the retire."""
        self.emit(RolloutFailed, step=str(StepName.RETIRE), reason=reason)
        return await self.finish(
            RolloutState.DETACHED,
            f"{self.plan.release.version} serves; retiring the old group failed: "
            f"`freshfleet resume {self.app}` retries it",
            f"retire failed: {reason}",
        )

    async def _delete_new(self) -> None:
        """Delete whatever exists of the new group, even if launch stopped half way."""
        plan = self.plan
        versions = {self.created.get("launch_template_version", "")} - {""}
        versions |= set(
            await launching.find_template_versions(
                self.gw, plan.app, plan.launch_template, plan.rollout_id
            )
        )
        tg = self.created.get("target_group_arn", "") or await self._tg_by_name(plan.new_group)
        if tg:
            await self.leave_listener(tg)  # ELB refuses to delete a group in use
        asg = plan.new_group if await describe_group(self.gw, plan.new_group) else ""
        for i, version in enumerate(sorted(versions) or [""]):
            first = i == 0  # the ASG and target group once, then each template version
            await self._delete(
                asg if first else "", tg if first else "", plan.launch_template, version
            )

    def _held_back(self, message: str) -> None:
        """A group's deletion waits on someone's terminating lifecycle hook: say so."""
        self.emit(Notice, message=message)

    async def _tg_by_name(self, name: str) -> str:
        try:
            elb = await self.gw.elbv2()
            with translated("elbv2", "describe_target_groups"):
                got = await elb.describe_target_groups(Names=[name])
        except AwsError:
            return ""
        groups = got.get("TargetGroups", [])
        return groups[0]["TargetGroupArn"] if groups else ""

    async def _interrupted(self) -> None:
        if self.lock is not None and self.lock.lost.is_set():
            return  # not ours any more: the new holder decides
        with contextlib.suppress(LeaseLost):
            await self._interrupted_here()

    async def _interrupted_here(self) -> None:
        if self.detaching:
            await self.finish(
                RolloutState.DETACHED,
                "detached: `freshfleet resume` continues it, `freshfleet rollback` undoes it",
                "detached",
            )
        elif not self.shifted:
            await self.unwind("interrupted (Ctrl-C)", aborted=True)
        else:
            await self.finish(
                RolloutState.DETACHED,
                "interrupted after the shift: `freshfleet resume` finishes it, "
                "`freshfleet rollback` flips back",
                "interrupted",
            )

    async def finish(self, state: RolloutState, outcome: str, reason: str = "") -> RolloutResult:
        """Write the rollout's end (state, outcome, reason, its steps) and say how it ended."""
        await self._write(
            state=state,
            finished_at=utc_now() if state != RolloutState.DETACHED else "",
            outcome=outcome,
            reason=reason,
            steps=[s.as_item() for s in self.steps],
        )
        self.emit(RolloutFinished, state=state, outcome=outcome)
        failed_step = next((s.name for s in self.steps if not s.ok), "")
        return self._result(state, outcome, reason, failed_step if reason else "")

    def _result(self, state: str, outcome: str, reason: str, failed_step: str) -> RolloutResult:
        """What `run()` returns: how the rollout ended, with its weights' history."""
        return RolloutResult(
            app=self.app,
            rollout_id=self.rollout_id,
            state=state,
            from_release=self.plan.from_release,
            to_release=self.plan.release.version,
            strategy=self.plan.strategy,
            outcome=outcome,
            reason=reason,
            failed_step=failed_step,
            weights_history=tuple(self.weights_history),
        )


def _live_instances(asg: Mapping[str, Any] | None) -> list[str]:
    """The ids of an ASG's instances that serve or are about to (`InService`, `Pending`)."""
    return [
        i["InstanceId"]
        for i in (asg or {}).get("Instances", [])
        if i.get("LifecycleState", "InService") in ("InService", "Pending")
    ]


async def _answer_503(gw: Gateway, point: TrafficPoint) -> None:
    """The listener (or rule) back to the plain 503 it answered before the first deploy."""
    from rollout.readiness.init_plan import fixed_503

    if point.rule_arn:
        await gw.call("elbv2", "modify_rule", RuleArn=point.rule_arn, Actions=[fixed_503()])
    else:
        await gw.call(
            "elbv2", "modify_listener", ListenerArn=point.listener_arn, DefaultActions=[fixed_503()]
        )
