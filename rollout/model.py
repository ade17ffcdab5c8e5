"""The domain model: immutable snapshots of a fleet as AWS and the ledger describe it.

Every object here is a frozen dataclass. State changes are new snapshots, which the faces
diff (see `rollout.fleet.observer`), so nothing here is ever mutated after construction.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

# Tags that identify freshfleet's resources (ARCHITECTURE §3). The release is known from tags,
# never from names.
TAG_APP = "freshfleet:app"
TAG_RELEASE = "freshfleet:release"
TAG_ROLLOUT = "freshfleet:rollout"
# On the app's launch template: the subnets its instances go in, comma-separated (`init`).
TAG_INSTANCE_SUBNETS = "freshfleet:instance-subnets"


class InstanceState(enum.StrEnum):
    """EC2's instance state names."""

    PENDING = "pending"
    RUNNING = "running"
    SHUTTING_DOWN = "shutting-down"
    TERMINATED = "terminated"
    STOPPING = "stopping"
    STOPPED = "stopped"


class HealthState(enum.StrEnum):
    """ELBv2 target health states; only HEALTHY counts as healthy (ARCHITECTURE §4, gate)."""

    INITIAL = "initial"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    UNUSED = "unused"
    DRAINING = "draining"
    UNAVAILABLE = "unavailable"
    UNKNOWN = "unknown"


class Phase(enum.StrEnum):
    """The boot agent's phases, in the order they run (ARCHITECTURE §6)."""

    FETCH = "fetch"
    VERIFY = "verify"
    EXTRACT = "extract"
    BUILD = "build"
    RUN = "run"
    HEALTH = "health"


class PhaseStatus(enum.StrEnum):
    START = "start"
    OK = "ok"
    FAIL = "fail"


class GroupRole(enum.StrEnum):
    """What a server group is doing for its app, from listener weights and the ledger."""

    SERVING = "serving"  # weight > 0 on the app's listener
    RETAINED = "retained"  # out of traffic, kept through the bake for instant rollback
    LAUNCHING = "launching"  # created by a running rollout, not yet in traffic
    RETIRING = "retiring"  # being scaled to zero and deleted
    IDLE = "idle"  # out of traffic and not part of any rollout (an orphan, or pre-retire)


@dataclass(frozen=True, slots=True)
class BootPhase:
    """One line of the boot agent's report, from the instances table or the console."""

    phase: Phase
    status: PhaseStatus
    at: datetime
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status is PhaseStatus.FAIL


@dataclass(frozen=True, slots=True)
class TargetHealth:
    """A target's health in one target group, with AWS's reason code and description."""

    state: HealthState
    reason: str = ""
    description: str = ""

    @property
    def healthy(self) -> bool:
        return self.state is HealthState.HEALTHY


@dataclass(frozen=True, slots=True)
class InstanceView:
    """A server group's instance as a rollout watches it, one reading at a time (the gate's
    view, carried by `rollout.events.InstanceUpdate`, folded by the faces).

    `state` is EC2's (or the ASG's lifecycle state while EC2 does not know the id yet),
    `health` the target group's (None while not registered), `phase`/`phase_status` the
    last boot phase this rollout's agent reported (None before the first, or for a phase
    this engine does not know), `lifecycle` the ASG's lifecycle state ("" when not read):
    `Pending:Wait` while a launch lifecycle hook holds it, `Terminating…` while the ASG takes
    it out (still listed while its targets drain, EC2 still `running`, no longer counted),
    `Detaching`/`Detached` while it leaves the group by DetachInstances (EC2 `running`, and
    running on once it has left), `EnteringStandby`/`Standby` while it is on standby (still
    the group's, deregistered, not counted toward its capacity).
    """

    instance_id: str
    group: str  # the ASG name
    state: InstanceState
    health: HealthState | None = None
    health_reason: str = ""
    phase: Phase | None = None
    phase_status: PhaseStatus | None = None
    detail: str = ""
    lifecycle: str = ""

    @property
    def healthy(self) -> bool:
        """Running in EC2, healthy in its target group and in service in its ASG (the gate's
        test): an instance a lifecycle hook still holds (`Pending:Wait`), one the ASG is
        taking out or detaching, or one on standby, is not, whatever its target says."""
        serving = self.state is InstanceState.RUNNING and self.health is HealthState.HEALTHY
        return serving and self.lifecycle in ("", "InService")

    @property
    def waiting_on_hook(self) -> bool:
        """A launch lifecycle hook holds it (`Pending:Wait`) until its action is completed
        or times out."""
        return self.lifecycle == "Pending:Wait"

    @property
    def leaving(self) -> bool:
        """It is leaving the group: the ASG takes it out (`Terminating`, `Terminating:Wait`,
        `Terminating:Proceed`, `Terminated`) or it is detached (`Detaching`, `Detached`)."""
        return self.lifecycle.startswith("Terminat") or self.detached

    @property
    def detached(self) -> bool:
        """DetachInstances took it out of the group (`Detaching`, `Detached`): it leaves
        still running, a plain EC2 instance."""
        return self.lifecycle in ("Detaching", "Detached")

    @property
    def on_standby(self) -> bool:
        """It is on standby (`EnteringStandby`, `Standby`): still the group's, but
        deregistered and not counted toward its capacity, neither healthy nor a failure."""
        return self.lifecycle in ("EnteringStandby", "Standby")

    @property
    def boot_failed(self) -> bool:
        """Its boot reported a phase `fail`."""
        return self.phase_status is PhaseStatus.FAIL

    @property
    def failed(self) -> bool:
        """Its boot failed or its target is unhealthy: the instance whose log explains."""
        return self.boot_failed or self.health is HealthState.UNHEALTHY

    @property
    def boot_text(self) -> str:
        """The last boot phase and its status (`health fail`), or "" before any."""
        return " ".join(str(x) for x in (self.phase, self.phase_status) if x)

    @property
    def health_text(self) -> str:
        """The target health and its reason, or "" while not registered."""
        return " ".join(str(x) for x in (self.health, self.health_reason) if x)

    @property
    def target_health(self) -> str:
        """The target health as the gate's messages give it: the state with its reason in
        parentheses (`unhealthy (Target.Timeout)`), the state alone without a reason, or
        `unregistered` while not registered."""
        if self.health_reason:
            return f"{self.health} ({self.health_reason})"
        return self.health or "unregistered"


@dataclass(frozen=True, slots=True)
class Instance:
    """An EC2 instance of a server group: the three views side by side.

    `state` is EC2's, `health` the target group's (None when not registered), `release`
    from the instance's tags, `boot` the last phase from the instances table.
    """

    instance_id: str
    state: InstanceState
    app: str
    release: str
    rollout_id: str
    group: str  # the ASG name
    az: str = ""
    instance_type: str = ""
    launched_at: datetime | None = None
    private_ip: str = ""
    health: TargetHealth | None = None
    boot: BootPhase | None = None


@dataclass(frozen=True, slots=True)
class Capacity:
    """A server group's sizes: its minimum, maximum and desired instance counts."""

    min_size: int
    max_size: int
    desired: int

    def __str__(self) -> str:
        return f"min {self.min_size} / max {self.max_size} / desired {self.desired}"


# A server group's sizes before it is sized (or when a record leaves them out).
NO_CAPACITY = Capacity(0, 0, 0)

# What a rollout's ledger item records of a server group (`ServerGroup.as_item`): enough to
# resume or retire it. Its capacity's sizes are flat keys among the group's own.
_CAPACITY_ITEM_KEYS = ("min_size", "max_size", "desired")
_GROUP_ITEM_KEYS = (
    "name",
    "release",
    "rollout_id",
    "target_group_arn",
    "launch_template",
    "launch_template_version",
    *_CAPACITY_ITEM_KEYS,
    "health_check_type",
    "grace_period",
    "subnets",
)


@dataclass(frozen=True, slots=True)
class ServerGroup:
    """One rollout's ASG, its target group and its launch-template version, with capacity.

    The one server group of the engine: the observer's (with its weight, role and members,
    `rollout.fleet.records.group_of`) and the rollout's (launched, gated, shifted, retired,
    and recorded in the ledger by `as_item`).
    """

    name: str  # the ASG name, `<app>-<rollout id>` cut to AWS's limits
    release: str
    rollout_id: str
    target_group_arn: str
    app: str = ""
    launch_template_id: str = ""
    launch_template: str = ""  # the launch template's name
    launch_template_version: str = ""
    capacity: Capacity = NO_CAPACITY
    health_check_type: str = "EC2"
    grace_period: int = 0
    subnets: str = ""  # the ASG's VPCZoneIdentifier
    weight: int = 0
    role: GroupRole = GroupRole.IDLE
    instance_ids: tuple[str, ...] = ()
    created_at: datetime | None = None

    @property
    def in_traffic(self) -> bool:
        return self.weight > 0

    def as_item(self) -> dict[str, str | int]:
        """The ledger's record of the group, enough to resume or retire it: its fields and
        its capacity's sizes as flat keys (`min_size`, `max_size`, `desired`)."""
        sizes = {k: getattr(self.capacity, k) for k in _CAPACITY_ITEM_KEYS}
        return {k: sizes[k] if k in sizes else getattr(self, k) for k in _GROUP_ITEM_KEYS}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> ServerGroup:
        """The group a ledger record (`as_item`) describes; a key it lacks takes its default."""
        sizes = {k: item[k] for k in _CAPACITY_ITEM_KEYS if k in item}
        capacity = replace(NO_CAPACITY, **sizes)
        own = {k: item[k] for k in _GROUP_ITEM_KEYS if k in item and k not in _CAPACITY_ITEM_KEYS}
        return cls(**own, capacity=capacity)


@dataclass(frozen=True, slots=True)
class Release:
    """A release record from the releases table."""

    app: str
    version: str
    url: str
    sha256: str
    port: int = 8080
    health_path: str = "/health"
    created_at: datetime | None = None
    created_by: str = ""
    notes: str = ""
    simulate: Mapping[str, object] | None = None  # localaws only: failure injection
    # How long the boot agent waits for a 2xx on health_path; None: the rollout derives it
    # from its gate deadline (rollout.deploy.health_settings.agent_health_seconds).
    health_timeout_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class LockInfo:
    """Who holds an app's deploy lock, since when, until when, and why.

    `owner` is `<caller ARN>@<host>:<pid>`; `generation` grows at every takeover; `beat`
    counts the holder's renewals; `kind` is "deploy" (a process's lease, heartbeated every
    few seconds, `lease_seconds` long) or "manual" (`freshfleet lock`: a person's hold until
    `expires_at`). The times are the writer's wall clock: shown, never trusted.
    """

    app: str
    owner: str
    acquired_at: datetime
    expires_at: datetime
    message: str = ""
    caller_arn: str = ""
    generation: int = 0
    beat: int = 0
    lease_seconds: float = 0.0
    kind: str = "deploy"


@dataclass(frozen=True, slots=True)
class App:
    """An app: its listener, its server groups and what it serves."""

    name: str
    listener_arn: str = ""
    rule_arn: str = ""  # set when the app is a listener rule on a shared ALB
    load_balancer_arn: str = ""
    load_balancer_url: str = ""  # http(s)://<DNSName>:<port>
    launch_template_id: str = ""
    groups: tuple[ServerGroup, ...] = ()
    lock: LockInfo | None = None
    active_rollout_id: str = ""

    @property
    def serving(self) -> tuple[ServerGroup, ...]:
        return tuple(g for g in self.groups if g.role is GroupRole.SERVING)

    @property
    def serving_release(self) -> str:
        """The release of the group with the largest weight, or "" when none serves."""
        live = sorted(self.serving, key=lambda g: g.weight, reverse=True)
        return live[0].release if live else ""


@dataclass(frozen=True, slots=True)
class FleetSnapshot:
    """Everything known about the fleet at one moment; built fresh on every observer tick."""

    taken_at: datetime
    apps: tuple[App, ...] = ()
    instances: Mapping[str, Instance] = field(default_factory=dict)
    backend: str = ""  # "LOCAL SANDBOX" or "<account id> <region>"
    warnings: tuple[str, ...] = ()  # what could not be read this tick (a missing table, ...)

    def app(self, name: str) -> App | None:
        return next((a for a in self.apps if a.name == name), None)

    def instances_of(self, group: ServerGroup) -> tuple[Instance, ...]:
        return tuple(self.instances[i] for i in group.instance_ids if i in self.instances)


@dataclass(frozen=True, slots=True)
class FleetDiff:
    """What changed between two snapshots, keyed by instance id and group name."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    groups_changed: tuple[str, ...] = ()
    apps_changed: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (
            self.added or self.removed or self.changed or self.groups_changed or self.apps_changed
        )
