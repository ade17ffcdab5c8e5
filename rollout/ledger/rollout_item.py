"""A rollout's item in the rollouts table, typed: what the runner writes and a resume reads.

`RolloutItem.from_item` reads the item's plain values tolerantly, so an item written by any
earlier version reads back; it is the one reader of the item's shape (`RolloutLedger.get`,
`recent`, `unfinished` and the history's listings all go through it), and the rollout every
reader uses: the runner, a resume, the history, the fleet's view. Its times stay the
ledger's ISO strings as written; `started` and `finished` read them parsed. `as_item`
gives the plain values the runner writes when the rollout starts (the same keys and values
it always wrote; `RolloutPlan.started_item` fills it from a plan). Later writes set single
fields of it (`Rollout._save`), each named as a field here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from rollout.ledger.codec import ItemValue, Values, as_int, as_map
from rollout.ledger.timestamps import parse_time
from rollout.ledger.vocabulary import STEP_DONE, UNFINISHED, StepName, StepStatus, Strategy
from rollout.model import Capacity, ServerGroup


class Timed:
    """A step or a rollout: its `started_at` and `finished_at`, the ledger's ISO strings
    ("" while unknown), read parsed."""

    __slots__ = ()
    started_at: str
    finished_at: str

    @property
    def started(self) -> datetime | None:
        """When it started, parsed (None when not recorded or unreadable)."""
        return parse_time(self.started_at)

    @property
    def finished(self) -> datetime | None:
        """When it ended, parsed (None while it runs, or when unreadable)."""
        return parse_time(self.finished_at)

    def _span(self) -> float | None:
        start, end = self.started, self.finished
        return (end - start).total_seconds() if start and end else None


@dataclass(slots=True)
class Step(Timed):
    """One step of a rollout as its item's `steps` list keeps it: written `running` before
    the step runs and again with how it ended. Times are the ledger's ISO strings ("" while
    unknown); `name` is a StepName and `status` a StepStatus, or a word an older item used."""

    name: str
    status: str
    started_at: str = ""
    finished_at: str = ""
    detail: str = ""

    def __post_init__(self) -> None:
        self.name, self.status = str(self.name), str(self.status)  # plain, as read back

    @property
    def done(self) -> bool:
        """The step completed (`ok`, or the words older items used for it)."""
        return self.status in STEP_DONE

    @property
    def ok(self) -> bool:
        """The step ended `ok` (the runner's own word for a step that completed)."""
        return self.status == StepStatus.OK

    @property
    def seconds(self) -> float | None:
        """Start to finish, or None while it runs (or when a time is missing)."""
        return self._span()

    def as_item(self) -> dict[str, str]:
        """The step as the item's `steps` list stores it (plain strings, this key order)."""
        return {
            "name": str(self.name),
            "status": str(self.status),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "detail": self.detail,
        }

    @classmethod
    def from_item(cls, values: Mapping[str, ItemValue]) -> Step:
        """A step back from the item's `steps` list; a missing field reads as ""."""
        v = Values(values)
        return cls(
            name=v.text("name"),
            status=v.text("status"),
            started_at=v.time("started_at"),
            finished_at=v.time("finished_at"),
            detail=v.text("detail"),
        )


@dataclass(frozen=True, slots=True)
class WeightsAt:
    """One entry of the item's `weights_history`: the listener's weights by group name."""

    at: str
    weights: Mapping[str, int]

    def as_item(self) -> dict[str, object]:
        """The entry as the item stores it."""
        return {"at": self.at, "weights": dict(self.weights)}


@dataclass(frozen=True, slots=True)
class JudgeEvidence:
    """The judge's last verdict as the rollout item keeps it (`judge`): its evidence."""

    verdict: str
    during: str
    reason: str
    candidate_requests: int = 0
    candidate_errors: int = 0
    candidate_latency_ms: float | None = None
    baseline_requests: int = 0
    baseline_errors: int = 0
    baseline_latency_ms: float | None = None
    latency_stat: str = ""
    p_value: float = 1.0

    @property
    def summary(self) -> str:
        """`fail (bake): new 0.0 % of 1,210, p90 107 ms · baseline 0.0 % of 1,180, p90 19 ms`"""

        def side(requests: int, errors: int, latency: float | None) -> str:
            share = 100.0 * errors / requests if requests else 0.0
            text = f"5xx {share:.1f} % of {requests:,}"
            if latency is not None:
                text += f", {self.latency_stat} {latency:.0f} ms"
            return text

        new = side(self.candidate_requests, self.candidate_errors, self.candidate_latency_ms)
        base = side(self.baseline_requests, self.baseline_errors, self.baseline_latency_ms)
        return f"{self.verdict} ({self.during}): new {new} · baseline {base}"


def judge_of(value: Mapping[str, ItemValue]) -> JudgeEvidence | None:
    """The `judge` map of a rollout item, or None (no judge looked, or an old item)."""
    if not value.get("verdict"):
        return None
    v = Values(value)
    new, base = Values(v.map("candidate")), Values(v.map("baseline"))
    p_value = v.seconds("p_value")
    return JudgeEvidence(
        verdict=v.text("verdict"),
        during=v.text("during"),
        reason=v.text("reason"),
        candidate_requests=new.number("requests"),
        candidate_errors=new.number("errors"),
        candidate_latency_ms=new.seconds("latency_ms"),
        baseline_requests=base.number("requests"),
        baseline_errors=base.number("errors"),
        baseline_latency_ms=base.seconds("latency_ms"),
        latency_stat=v.text("latency_stat"),
        p_value=1.0 if p_value is None else p_value,
    )


@dataclass(frozen=True, slots=True)
class RolloutItem(Timed):
    """One rollout as its ledger item holds it (ARCHITECTURE §4)."""

    app: str
    rollout_id: str
    state: str  # a RolloutState, as stored
    owner: str = ""
    lock_generation: int = 0
    started_at: str = ""
    finished_at: str = ""
    steps: tuple[Step, ...] = ()
    abort_requested: bool = False
    abort_by: str = ""
    abort_action: str = ""
    outcome: str = ""
    reason: str = ""
    shifted: bool = False
    weights: Mapping[str, int] = field(default_factory=dict)
    weights_history: tuple[WeightsAt, ...] = ()
    # the plan's part
    from_release: str = ""
    to_release: str = ""
    strategy: str = Strategy.BLUE_GREEN.value
    new_group: str = ""
    old_group: ServerGroup | None = None
    listener_arn: str = ""
    rule_arn: str = ""
    load_balancer_arn: str = ""
    launch_template: str = ""
    launch_template_version: str = ""
    user_data_sha256: str = ""
    capacity: Capacity = field(default_factory=lambda: Capacity(0, 0, 0))
    bake_seconds: float | None = None  # None: not recorded (the settings' default applies)
    grace_period: int = 0
    scale_in_held: tuple[str, ...] = ()
    schedules_held: bool = False
    # written as the rollout goes
    created: Mapping[str, str] = field(default_factory=dict)  # lt version, tg, asg
    new_group_ref: ServerGroup | None = None
    old_shrunk: bool = False
    judge: JudgeEvidence | None = None  # the judge's last verdict, when one looked
    kind: str = ""  # "" for a rollout; "lock-takeover" for an audit item (`rollout.ledger.lease`)

    @property
    def unfinished(self) -> bool:
        """The rollout is `running` or `detached`."""
        return self.state in UNFINISHED

    @property
    def last_step(self) -> str:
        """The name of its last recorded step ("" when none)."""
        return self.steps[-1].name if self.steps else ""

    def step(self, name: str) -> Step | None:
        """The last recorded step of that name (None when none)."""
        return next((s for s in reversed(self.steps) if s.name == name), None)

    @property
    def has_shifted(self) -> bool:
        """True once the listener forwards to the new group: the item's `shifted` flag (the
        state machine sets it at the shift) or a shift step that completed."""
        shift = self.step(StepName.SHIFT)
        return self.shifted or (shift is not None and shift.done)

    @property
    def duration_seconds(self) -> float | None:
        """Start to finish, or None while it runs (or when a time is missing)."""
        return self._span()

    def as_item(self) -> dict[str, object]:
        """The plain values the runner puts when the rollout starts (the codec drops None)."""
        cap = self.capacity
        return {
            "app": self.app,
            "rollout_id": self.rollout_id,
            "state": str(self.state),
            "owner": self.owner,
            "lock_generation": self.lock_generation,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "steps": [s.as_item() for s in self.steps],
            "abort_requested": self.abort_requested,
            "abort_by": self.abort_by,
            "outcome": self.outcome,
            "reason": self.reason,
            "shifted": self.shifted,
            "weights": dict(self.weights),
            "weights_history": [w.as_item() for w in self.weights_history],
            "from_release": self.from_release,
            "to_release": self.to_release,
            "strategy": str(self.strategy),
            "new_group": self.new_group,
            "old_group": self.old_group.as_item() if self.old_group else None,
            "listener_arn": self.listener_arn,
            "rule_arn": self.rule_arn,
            "load_balancer_arn": self.load_balancer_arn,
            "launch_template": self.launch_template,
            "launch_template_version": self.launch_template_version,
            "user_data_sha256": self.user_data_sha256,
            "capacity": {
                "min_size": cap.min_size,
                "max_size": cap.max_size,
                "desired": cap.desired,
            },
            "bake_seconds": self.bake_seconds,
            "grace_period": self.grace_period,
            "scale_in_held": list(self.scale_in_held),
            "schedules_held": self.schedules_held,
        }

    @classmethod
    def from_item(cls, values: Mapping[str, ItemValue]) -> RolloutItem:
        """The item from its plain values; a missing or empty field reads as its default."""
        v = Values(values)
        cap = v.map("capacity")
        return cls(
            app=v.text("app"),
            rollout_id=v.text("rollout_id"),
            state=v.text("state"),
            owner=v.text("owner"),
            lock_generation=v.number("lock_generation"),
            started_at=v.time("started_at"),
            finished_at=v.time("finished_at"),
            steps=tuple(Step.from_item(s) for s in v.maps("steps")),
            abort_requested=v.flag("abort_requested"),
            abort_by=v.text("abort_by"),
            abort_action=v.text("abort_action"),
            outcome=v.text("outcome"),
            reason=v.text("reason"),
            shifted=v.flag("shifted"),
            weights=_weights(v.map("weights")),
            weights_history=tuple(
                WeightsAt(str(h.get("at") or ""), _weights(as_map(h.get("weights"))))
                for h in v.maps("weights_history")
            ),
            from_release=v.text("from_release"),
            to_release=v.text("to_release"),
            # An audit item has no strategy; a rollout item without one reads as the default.
            strategy=v.text("strategy") or ("" if v.text("kind") else Strategy.BLUE_GREEN.value),
            new_group=v.text("new_group"),
            old_group=_group(v.map("old_group")),
            listener_arn=v.text("listener_arn"),
            rule_arn=v.text("rule_arn"),
            load_balancer_arn=v.text("load_balancer_arn"),
            launch_template=v.text("launch_template"),
            launch_template_version=v.text("launch_template_version"),
            user_data_sha256=v.text("user_data_sha256"),
            capacity=Capacity(
                as_int(cap.get("min_size")), as_int(cap.get("max_size")), as_int(cap.get("desired"))
            ),
            bake_seconds=v.seconds("bake_seconds"),
            grace_period=v.number("grace_period"),
            scale_in_held=tuple(str(n) for n in v.sequence("scale_in_held")),
            schedules_held=v.flag("schedules_held"),
            created={k: str(x) for k, x in v.map("created").items()},
            new_group_ref=_group(v.map("new_group_ref")),
            old_shrunk=v.flag("old_shrunk"),
            judge=judge_of(v.map("judge")),
            kind=v.text("kind"),
        )

    @property
    def weights_by_group(self) -> list[dict[str, int]]:
        """The weights' history without its times, oldest first (what the runner keeps)."""
        return [dict(w.weights) for w in self.weights_history]


def _weights(values: Mapping[str, ItemValue]) -> dict[str, int]:
    return {str(k): as_int(w) for k, w in values.items()}


def _group(values: Mapping[str, ItemValue]) -> ServerGroup | None:
    return ServerGroup.from_item(dict(values)) if values else None
