"""Watching a running rollout and telling its notifiers, beside it and never in its way.

The runner hands every event it emits to `NotificationRelay.observe` (synchronous, cheap);
each notification worth sending is delivered in a task of its own, so a receiver that hangs
or fails costs the rollout nothing. Before the rollout's event stream closes, `drain` gives
the deliveries still under way at most one notifier timeout. Every delivery is recorded on
the rollout's ledger item (`notifications`: notifier, event, ok, detail), fenced on the
runner's lease like its other writes (a relay whose process lost the rollout writes nothing),
and a failed one is also a warning `Notice` in the rollout's events, which both faces show.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rollout.aws.gateway import AwsError, Gateway
from rollout.events import (
    InstanceUpdate,
    Notice,
    RolloutEvent,
    RolloutFailed,
    RolloutFinished,
    StepFinished,
    WeightsChanged,
)
from rollout.ledger.vocabulary import RolloutState, StepName, StepStatus
from rollout.model import HealthState, InstanceView
from rollout.notify.delivery import Delivery, deliver
from rollout.notify.message import Notification
from rollout.notify.settings import NotifierSpec, notifiers_for

if TYPE_CHECKING:
    from rollout.deploy.plan import RolloutPlan
    from rollout.ledger.rollouts import RolloutLedger

# The final states announced by their own name (an abort is announced with its outcome).
_FINAL = (RolloutState.SUCCEEDED, RolloutState.FAILED, RolloutState.ROLLED_BACK)
_REQUESTED = re.compile(r"^(abort|rollback) requested by (.+)$")


@dataclass(eq=False)
class NotificationRelay:
    """The notifications of one rollout: which events go out, delivery, the record."""

    gw: Gateway
    specs: tuple[NotifierSpec, ...]
    plan: RolloutPlan
    ledger: RolloutLedger
    _: KW_ONLY
    owner: str
    emit: Callable[[str], None]  # says a failed delivery as a warning in the rollout's events
    fence: Callable[[], tuple[str, int] | None] | None = None
    deliveries: list[Delivery] = field(init=False, default_factory=list)
    # Another process drives the rollout: record nothing more.
    _fenced_out: bool = field(init=False, default=False)
    _tasks: set[asyncio.Task[None]] = field(init=False, default_factory=set)
    _record_lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)
    _started: float = field(init=False, default_factory=time.monotonic)
    _reason: str = field(init=False, default="")
    _requested_by: str = field(init=False, default="")
    _instances: dict[str, InstanceView] = field(init=False, default_factory=dict)
    _shifted: bool = field(init=False, default=False)
    _backend: str | None = field(init=False, default=None)

    # -- what the runner calls -----------------------------------------------------------

    def observe(self, event: RolloutEvent) -> None:
        """Look at one event the rollout emitted; start a delivery when it is news."""
        if not self.specs or isinstance(event, Notice):
            return
        if isinstance(event, InstanceUpdate):
            self._instances[event.instance.instance_id] = event.instance
        elif isinstance(event, StepFinished) and event.status == StepStatus.OK:
            if event.step == StepName.PLAN:  # emitted by a fresh start only, never on resume
                self._send("started")
            elif event.step == StepName.BAKE:
                self._send("bake_passed")
        elif isinstance(event, WeightsChanged):
            self._on_weights(event)
        elif isinstance(event, RolloutFailed):
            self._reason = event.reason
            asked = _REQUESTED.match(event.reason)
            if asked:
                self._requested_by = asked.group(2)
            if "taken over" in event.reason:
                self._send("lock_taken_over")
        elif isinstance(event, RolloutFinished):
            if event.state == RolloutState.ABORTED:
                self._send("aborted", outcome=event.outcome)
            elif event.state in _FINAL:
                self._send(str(event.state), outcome=event.outcome)

    async def drain(self) -> None:
        """Give the deliveries under way at most one notifier timeout, then give up on them."""
        if not self._tasks:
            return
        budget = max(s.timeout_seconds for s in self.specs)
        _, pending = await asyncio.wait(set(self._tasks), timeout=budget)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- building and sending -------------------------------------------------------------

    def _on_weights(self, event: WeightsChanged) -> None:
        total = sum(event.weights.values())
        mine = event.weights.get(self.plan.new_group, 0)
        if not self._shifted and total > 0 and mine == total:
            self._shifted = True
            self._send("shifted")

    def _send(self, event: str, *, outcome: str = "") -> None:
        # `hears` checks the app as well, so the specs need no filtering first.
        wanted = [s for s in self.specs if s.hears(self.plan.app, event)]
        if not wanted:
            return
        at = datetime.now(UTC).isoformat(timespec="seconds")
        duration = time.monotonic() - self._started
        for spec in wanted:
            task = asyncio.get_running_loop().create_task(
                self._deliver(spec, event, outcome, at, duration),
                name=f"notify {spec.label} {event}",
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(
        self, spec: NotifierSpec, event: str, outcome: str, at: str, duration: float
    ) -> None:
        try:
            result = await deliver(
                spec, await self._notification(event, outcome, at, duration), self.gw
            )
        except asyncio.CancelledError:
            result = Delivery(spec.label, event, False, "gave up: the rollout ended first", 0)
            await asyncio.shield(self._record(result))
            raise
        await self._record(result)

    async def _notification(
        self, event: str, outcome: str, at: str, duration: float
    ) -> Notification:
        plan = self.plan
        failing = self._failing_instance() if event in ("failed", "rolled_back") else None
        who = self.owner
        if event in ("rolled_back", "aborted"):
            who = self._requested_by or ("automatic" if event == "rolled_back" else who)
        return Notification(
            event=event,
            app=plan.app,
            rollout_id=plan.rollout_id,
            from_release=plan.from_release,
            to_release=str(plan.release.version),
            strategy=plan.strategy,
            backend=await self._backend_label(),
            at=at,
            duration_seconds=duration,
            outcome=outcome,
            reason=self._reason if event in ("failed", "rolled_back", "aborted") else "",
            who=who,
            plan_sha256=plan_sha256(plan) if event == "started" else "",
            instance_id=failing.instance_id if failing else "",
            last_phase=failing.boot_text if failing else "",
        )

    def _failing_instance(self) -> InstanceView | None:
        seen = list(self._instances.values())
        failed = [i for i in seen if i.boot_failed]
        if failed:
            return failed[0]
        unhealthy = [i for i in seen if i.health is not HealthState.HEALTHY]
        return unhealthy[0] if unhealthy else None

    async def _backend_label(self) -> str:
        if self._backend is None:
            backend = self.gw.backend
            if backend.local:
                self._backend = backend.label
            else:
                try:
                    account = await self.gw.account_id()
                except AwsError:
                    account = "unknown account"
                self._backend = f"account {account} {backend.region or ''}".strip()
        return self._backend

    async def _record(self, result: Delivery) -> None:
        async with self._record_lock:
            self.deliveries.append(result)
            fence = self.fence() if self.fence is not None else None
            with contextlib.suppress(AwsError):  # the record is best effort too
                if not self._fenced_out and not await self.ledger.update(
                    self.plan.app,
                    self.plan.rollout_id,
                    fence=fence,
                    notifications=[d.as_item() for d in self.deliveries],
                ):
                    # The item names another owner or generation: that process records now.
                    self._fenced_out = True
        if not result.ok:
            self.emit(
                f"notifier {result.notifier}: '{result.event}' not delivered ({result.detail}); "
                "the rollout goes on"
            )


def plan_sha256(plan: RolloutPlan) -> str:
    """A hash of the plan's diff, so a message names exactly what was confirmed."""
    text = "\n".join(f"{c.what}: {c.before} -> {c.after}" for c in plan.diff())
    return hashlib.sha256(text.encode()).hexdigest()


async def send_test(gw: Gateway, specs: tuple[NotifierSpec, ...], app: str) -> list[Delivery]:
    """Send a `test` notification through every notifier of `app`, all at once; what each
    answered, in the configuration's order. An app with no notifier gets an empty list."""
    mine = notifiers_for(specs, app)
    if not mine:
        return []
    n = Notification(
        event="test",
        app=app,
        rollout_id="(test)",
        from_release="",
        to_release="(test)",
        strategy="-",
        backend=gw.backend.label,
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        outcome="a test message from `freshfleet notify test`",
    )
    return list(await asyncio.gather(*(deliver(s, n, gw) for s in mine)))
