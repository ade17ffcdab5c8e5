"""A rollout's item in the rollouts table, typed: what the runner writes and a resume reads.

`RolloutItem.from_item` reads the item's plain values (`RolloutLedger.get`) tolerantly, so
an item written by any earlier version reads back; `as_item` gives the plain values the
runner writes when the rollout starts (the same keys and values it always wrote). Later
writes set single fields of it (`Rollout._save`), each named as a field here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

from rollout.deploy.plan import Capacity, RolloutPlan
from rollout.ledger.rollouts import Step
from rollout.ledger.vocabulary import RolloutState, Strategy
from rollout.model import ServerGroup

# One value of an item as the codec gives it back (`rollout.ledger.codec.from_item`).
ItemValue: TypeAlias = (
    "str | int | float | bool | list[ItemValue] | dict[str, ItemValue] | set[ItemValue] | None"
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
class RolloutItem:
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

    @classmethod
    def started(
        cls,
        plan: RolloutPlan,
        *,
        owner: str,
        lock_generation: int,
        at: str,
        steps: tuple[Step, ...],
    ) -> RolloutItem:
        """The item of a rollout that starts now: `running`, nothing done but its steps."""
        return cls(
            app=plan.app,
            rollout_id=plan.rollout_id,
            state=RolloutState.RUNNING,
            owner=owner,
            lock_generation=lock_generation,
            started_at=at,
            steps=steps,
            from_release=plan.from_release,
            to_release=plan.release.version,
            strategy=plan.strategy,
            new_group=plan.new_group,
            old_group=plan.old_group,
            listener_arn=plan.traffic.listener_arn,
            rule_arn=plan.traffic.rule_arn,
            load_balancer_arn=plan.traffic.load_balancer_arn,
            launch_template=plan.launch_template,
            launch_template_version=plan.launch_template_version,
            user_data_sha256=plan.user_data_sha256,
            capacity=plan.capacity,
            bake_seconds=plan.bake_seconds,
            grace_period=plan.grace_period,
            scale_in_held=plan.scale_in_held,
            schedules_held=plan.schedules_held,
        )

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
        v = _Values(values)
        cap = v.map("capacity")
        return cls(
            app=v.text("app"),
            rollout_id=v.text("rollout_id"),
            state=v.text("state"),
            owner=v.text("owner"),
            lock_generation=v.number("lock_generation"),
            started_at=v.text("started_at"),
            finished_at=v.text("finished_at"),
            steps=tuple(Step.from_item(s) for s in v.maps("steps")),
            abort_requested=v.flag("abort_requested"),
            abort_by=v.text("abort_by"),
            abort_action=v.text("abort_action"),
            outcome=v.text("outcome"),
            reason=v.text("reason"),
            shifted=v.flag("shifted"),
            weights=_weights(v.map("weights")),
            weights_history=tuple(
                WeightsAt(str(h.get("at") or ""), _weights(_map(h.get("weights"))))
                for h in v.maps("weights_history")
            ),
            from_release=v.text("from_release"),
            to_release=v.text("to_release"),
            strategy=v.text("strategy") or Strategy.BLUE_GREEN.value,
            new_group=v.text("new_group"),
            old_group=_group(v.map("old_group")),
            listener_arn=v.text("listener_arn"),
            rule_arn=v.text("rule_arn"),
            load_balancer_arn=v.text("load_balancer_arn"),
            launch_template=v.text("launch_template"),
            launch_template_version=v.text("launch_template_version"),
            user_data_sha256=v.text("user_data_sha256"),
            capacity=Capacity(
                _int(cap.get("min_size")), _int(cap.get("max_size")), _int(cap.get("desired"))
            ),
            bake_seconds=v.seconds("bake_seconds"),
            grace_period=v.number("grace_period"),
            scale_in_held=tuple(str(n) for n in v.sequence("scale_in_held")),
            schedules_held=v.flag("schedules_held"),
            created={k: str(x) for k, x in v.map("created").items()},
            new_group_ref=_group(v.map("new_group_ref")),
            old_shrunk=v.flag("old_shrunk"),
        )

    @property
    def weights_by_group(self) -> list[dict[str, int]]:
        """The weights' history without its times, oldest first (what the runner keeps)."""
        return [dict(w.weights) for w in self.weights_history]


class _Values:
    """Typed reads of an item's plain values, tolerant of missing fields and old shapes."""

    def __init__(self, values: Mapping[str, ItemValue]) -> None:
        self.values = values

    def text(self, key: str) -> str:
        got = self.values.get(key)
        return "" if got is None else str(got)

    def number(self, key: str) -> int:
        return _int(self.values.get(key))

    def seconds(self, key: str) -> float | None:
        got = self.values.get(key)
        return float(got) if isinstance(got, int | float | str) and got != "" else None

    def flag(self, key: str) -> bool:
        return bool(self.values.get(key))

    def map(self, key: str) -> Mapping[str, ItemValue]:
        return _map(self.values.get(key))

    def sequence(self, key: str) -> list[ItemValue]:
        got = self.values.get(key)
        return list(got) if isinstance(got, list | tuple | set) else []

    def maps(self, key: str) -> list[Mapping[str, ItemValue]]:
        return [m for m in self.sequence(key) if isinstance(m, Mapping)]


def _map(value: ItemValue) -> Mapping[str, ItemValue]:
    return value if isinstance(value, Mapping) else {}


def _int(value: ItemValue) -> int:
    return int(value) if isinstance(value, int | float | str) and value != "" else 0


def _weights(values: Mapping[str, ItemValue]) -> dict[str, int]:
    return {str(k): _int(w) for k, w in values.items()}


def _group(values: Mapping[str, ItemValue]) -> ServerGroup | None:
    return ServerGroup.from_item(dict(values)) if values else None
