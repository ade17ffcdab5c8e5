"""The fleet as table rows: apps → server groups → instances, with mismatch flags.

Pure functions over the domain model (no Textual), so the table widget only paints rows
and tests can read exactly what a person sees in each cell.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from console.plain import plain
from console.tui.fitted_columns import Column, fit_columns
from rollout.model import (
    App,
    FleetSnapshot,
    GroupRole,
    HealthState,
    Instance,
    InstanceState,
    ServerGroup,
)


class RowKind(enum.Enum):
    APP = "app"
    GROUP = "group"
    INSTANCE = "instance"


COLUMNS: tuple[Column, ...] = (
    Column("id", "INSTANCE", 20, min_width=19),  # an instance id is 19 characters
    Column("state", "EC2", 13, min_width=10),  # "terminated" whole, "shutting-…"
    Column("health", "TARGET HEALTH", 38, min_width=16),
    Column("release", "RELEASE", 9, min_width=7),
    Column("boot", "BOOT", 15, min_width=13),  # "extract start"
    Column("az", "AZ", 11, drop=2),
    Column("type", "TYPE", 9, drop=4),
    Column("age", "AGE", 5, drop=3),
    Column("flag", "FLAG", 14, drop=1),
)
# The order in which columns narrowed to fit get their width back: the target health's
# reason first (why an instance is out), then left to right.
GROWTH_ORDER = ("health", "id", "state", "release", "boot", "flag", "az", "type", "age")


def fit_fleet_columns(available: int, indent: int = 0) -> tuple[tuple[Column, int], ...]:
    """The fleet's columns shown in `available` cells (after `indent`) and each one's width
    (`fitted_columns.fit_columns`, the target health's reason widened first). The columns
    that matter (instance, EC2 state, target health, release, boot phase) are always shown:
    below their least widths (about 80 cells) the table is wider than `available`."""
    return fit_columns(COLUMNS, available, indent=indent, growth_order=GROWTH_ORDER)


COLUMN_KEYS = tuple(c.key for c in COLUMNS)

# Flags: the mismatches an on-call engineer must notice at a glance.
FLAG_STALE_IN_TRAFFIC = "release not serving, in traffic"
FLAG_NO_HEALTHY = "serving with no healthy target"
FLAG_FAIL_OPEN = "every target unhealthy: ALB fails open"


@dataclass(frozen=True, slots=True)
class FleetRow:
    """One line of the fleet table.

    Instance rows carry one text per column (`cells`); app and group rows carry one
    `text` spanning the width. `tone` names the style the painter gives the row or cell:
    "ok", "warn", "bad", "dim" or "".
    """

    key: str
    kind: RowKind
    app: str
    group: str = ""
    cells: tuple[str, ...] = ()
    tones: tuple[str, ...] = ()
    text: str = ""
    tone: str = ""
    flag: str = ""
    launched_at: datetime | None = None

    def matches(self, needle: str) -> bool:
        """True when `needle` (lower case) is in any column of the row."""
        hay = self.text if self.kind is not RowKind.INSTANCE else " ".join(self.cells)
        return needle in hay.lower() or needle in self.flag.lower()


def age_text(since: datetime | None, now: datetime) -> str:
    """A short age like `45s`, `12m`, `3h`, `2d`; "" when unknown."""
    if since is None:
        return ""
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


_STATE_TONE = {
    InstanceState.RUNNING: "ok",
    InstanceState.PENDING: "warn",
    InstanceState.SHUTTING_DOWN: "dim",
    InstanceState.TERMINATED: "dim",
    InstanceState.STOPPING: "bad",
    InstanceState.STOPPED: "bad",
}
_HEALTH_TONE = {
    HealthState.HEALTHY: "ok",
    HealthState.INITIAL: "warn",
    HealthState.UNHEALTHY: "bad",
    HealthState.UNAVAILABLE: "bad",
    HealthState.DRAINING: "dim",
    HealthState.UNUSED: "dim",
    HealthState.UNKNOWN: "warn",
}
_ROLE_TONE = {
    GroupRole.SERVING: "ok",
    GroupRole.RETAINED: "warn",
    GroupRole.LAUNCHING: "warn",
    GroupRole.RETIRING: "dim",
    GroupRole.IDLE: "dim",
}


def health_text(instance: Instance) -> str:
    """Target health with AWS's reason: `unhealthy Target.FailedHealthChecks` (`plain`)."""
    h = instance.health
    if h is None:
        return "not registered"
    return plain(f"{h.state.value} {h.reason}".strip(), one_line=True)


def boot_text(instance: Instance) -> str:
    """The boot agent's last phase and status: `run ok`."""
    b = instance.boot
    return f"{b.phase.value} {b.status.value}" if b else ""


def instance_flag(instance: Instance, group: ServerGroup | None, serving_release: str) -> str:
    """The stale-release flag: a healthy target in traffic serving another release."""
    if (
        group is not None
        and group.in_traffic
        and instance.health is not None
        and instance.health.healthy
        and serving_release
        and instance.release != serving_release
    ):
        return FLAG_STALE_IN_TRAFFIC
    return ""


# The text of each instance column but age (painted from the clock) and flag: what AWS
# and the tags hold, `plain` on one line (a cell is painted as it reads).
_CELL_TEXT: dict[str, Callable[[Instance], str]] = {
    "id": lambda i: plain(i.instance_id, one_line=True),
    "state": lambda i: i.state.value,
    "health": health_text,
    "release": lambda i: plain(i.release, one_line=True),
    "boot": boot_text,
    "az": lambda i: plain(i.az, one_line=True),
    "type": lambda i: plain(i.instance_type, one_line=True),
}


def instance_row(instance: Instance, group: ServerGroup | None, serving_release: str) -> FleetRow:
    """The row of one instance, with the stale-release flag when it misleads traffic."""
    flag = instance_flag(instance, group, serving_release)
    health_tone = _HEALTH_TONE.get(instance.health.state, "") if instance.health else "dim"
    boot_tone = ""
    if instance.boot is not None:
        boot_tone = (
            "bad"
            if instance.boot.failed
            else ("ok" if instance.boot.phase.value == "health" else "")
        )
    cell = _CELL_TEXT
    cells = (
        cell["id"](instance),
        instance.state.value,
        health_text(instance),
        cell["release"](instance),
        boot_text(instance),
        cell["az"](instance),
        cell["type"](instance),
        "",  # age: painted at render time from the clock
        flag,
    )
    tones = (
        "",
        _STATE_TONE.get(instance.state, ""),
        health_tone,
        "",
        boot_tone,
        "",
        "",
        "dim",
        "bad",
    )
    return FleetRow(
        key=instance.instance_id,
        kind=RowKind.INSTANCE,
        app=instance.app,
        group=instance.group,
        cells=cells,
        tones=tones,
        flag=flag,
        launched_at=instance.launched_at,
    )


def instance_sort_value(
    column: str, instance: Instance, group: ServerGroup | None, serving_release: str
) -> Any:
    """What `sort_key(column)` gives for this instance's row, without building the row.

    Equal by construction: the row's cells come from the same functions.
    """
    if column == "age":
        return -(instance.launched_at.timestamp()) if instance.launched_at else 0.0
    if column == "flag":
        return instance_flag(instance, group, serving_release)
    text = _CELL_TEXT.get(column)
    return text(instance) if text is not None else ""


def _healthy_count(instances: Iterable[Instance]) -> int:
    return sum(1 for i in instances if i.health is not None and i.health.healthy)


def _group_flag(group: ServerGroup, healthy: int) -> str:
    return FLAG_NO_HEALTHY if group.role is GroupRole.SERVING and healthy == 0 else ""


def group_row(
    group: ServerGroup, instances: tuple[Instance, ...], *, tally: GroupTally | None = None
) -> FleetRow:
    """The heading line of a server group: role, release, weight, healthy/total, capacity.

    With `tally` (counts kept from diffs) the instances are not visited at all.
    """
    if tally is None:
        healthy, total = _healthy_count(instances), len(instances)
    else:
        healthy, total = tally.healthy, tally.total
    flag = _group_flag(group, healthy)
    cap = group.capacity
    text = (
        f"  {group.role.value.upper():<9} {group.name}  {group.release}  "
        f"weight {group.weight}  healthy {healthy}/{total}  "
        f"capacity {cap.desired} ({cap.min_size}-{cap.max_size})"
    )
    return FleetRow(
        key=f"group:{group.name}",
        kind=RowKind.GROUP,
        app=group.app,
        group=group.name,
        text=plain(text, one_line=True),
        tone=_ROLE_TONE.get(group.role, ""),
        flag=flag,
    )


def app_flag(app: App, instances: Mapping[str, Instance]) -> str:
    """Every registered target of the serving groups unhealthy: the ALB fails open."""
    healths = [
        instances[i].health
        for g in app.serving
        for i in g.instance_ids
        if i in instances and instances[i].health is not None
    ]
    if healths and all(h is not None and h.state is HealthState.UNHEALTHY for h in healths):
        return FLAG_FAIL_OPEN
    return ""


def app_flag_counted(app: App, tallies: Mapping[str, GroupTally]) -> str:
    """`app_flag` from per-group counts: the same answer without visiting an instance."""
    registered = unhealthy = 0
    for g in app.serving:
        tally = tallies.get(g.name)
        if tally is not None:
            registered += tally.registered
            unhealthy += tally.unhealthy
    return FLAG_FAIL_OPEN if registered and registered == unhealthy else ""


def app_row(
    app: App,
    instances: Mapping[str, Instance],
    *,
    tallies: Mapping[str, GroupTally] | None = None,
) -> FleetRow:
    """The heading line of an app; with `tallies`, its flag comes from the counts."""
    serving = app.serving_release or "nothing"
    parts = [f"{app.name}", f"serving {serving}"]
    if app.load_balancer_url:
        parts.append(app.load_balancer_url)
    if app.lock is not None:
        lock = app.lock
        why = f" ({lock.message})" if lock.message else ""
        parts.append(f"locked by {lock.owner} since {lock.acquired_at:%H:%M:%S}{why}")
    if app.active_rollout_id:
        parts.append(f"rollout {app.active_rollout_id} running")
    return FleetRow(
        key=f"app:{app.name}",
        kind=RowKind.APP,
        app=app.name,
        text=plain("  ".join(parts), one_line=True),
        tone="app",
        flag=app_flag(app, instances) if tallies is None else app_flag_counted(app, tallies),
    )


@dataclass(slots=True)
class GroupTally:
    """A group's instance counts: those in the snapshot, healthy, registered, unhealthy."""

    total: int = 0
    healthy: int = 0
    registered: int = 0
    unhealthy: int = 0


def _contribution(instance: Instance) -> tuple[int, int, int]:
    h = instance.health
    if h is None:
        return (0, 0, 0)
    return (1 if h.healthy else 0, 1, 1 if h.state is HealthState.UNHEALTHY else 0)


class FleetTally:
    """Per-group counts kept up to date from each poll's diff, never recounted in full.

    A group's members are its `instance_ids` that are in the snapshot (as
    `FleetSnapshot.instances_of`); `update` costs O(changed instances + members of
    changed groups), and afterwards `groups[name]` equals a full recount.
    """

    def __init__(self) -> None:
        self.groups: dict[str, GroupTally] = {}
        self._member_of: dict[str, str] = {}  # instance id -> group listing it
        self._counted: dict[str, tuple[str, tuple[int, int, int]]] = {}
        self._group_ids: dict[str, tuple[str, ...]] = {}

    def update(
        self,
        snapshot: FleetSnapshot,
        instance_keys: Iterable[str],
        changed_groups: Iterable[str] = (),
        *,
        everything: bool = False,
    ) -> set[str]:
        """Count `instance_keys` (added, changed or removed) and the members of
        `changed_groups` afresh; `everything` recounts the whole snapshot. Returns the
        names of the groups whose counts changed."""
        groups = {g.name: g for a in snapshot.apps for g in a.groups}
        keys: set[str] = set(instance_keys)
        names = set(groups) | set(self._group_ids) if everything else set(changed_groups)
        if everything:
            keys.update(snapshot.instances)
        for name in names:
            old_ids = self._group_ids.pop(name, ())
            for iid in old_ids:
                if self._member_of.get(iid) == name:
                    del self._member_of[iid]
            keys.update(old_ids)
            group = groups.get(name)
            if group is None:
                self.groups.pop(name, None)
                continue
            self._group_ids[name] = group.instance_ids
            self.groups.setdefault(name, GroupTally())
            for iid in group.instance_ids:
                self._member_of[iid] = name
            keys.update(group.instance_ids)
        touched: set[str] = set()
        for iid in keys:
            old = self._counted.pop(iid, None)
            if old is not None:
                name, (healthy, registered, unhealthy) = old
                tally = self.groups.get(name)
                if tally is not None:
                    tally.total -= 1
                    tally.healthy -= healthy
                    tally.registered -= registered
                    tally.unhealthy -= unhealthy
                touched.add(name)
            name = self._member_of.get(iid, "")
            instance = snapshot.instances.get(iid)
            if instance is not None and name in self.groups:
                part = _contribution(instance)
                tally = self.groups[name]
                tally.total += 1
                tally.healthy += part[0]
                tally.registered += part[1]
                tally.unhealthy += part[2]
                self._counted[iid] = (name, part)
                touched.add(name)
        return touched & set(self.groups)


_ROLE_ORDER = {
    GroupRole.SERVING: 0,
    GroupRole.LAUNCHING: 1,
    GroupRole.RETAINED: 2,
    GroupRole.RETIRING: 3,
    GroupRole.IDLE: 4,
}

SortKey = Callable[[FleetRow], Any]


def sort_key(column: str) -> SortKey:
    index = COLUMN_KEYS.index(column)
    if column == "age":
        return lambda r: -(r.launched_at.timestamp()) if r.launched_at else 0.0
    return lambda r: r.cells[index]


@dataclass(frozen=True, slots=True)
class RowFilter:
    """`/` filter text: a substring of any column; a leading `!` inverts it."""

    needle: str = ""
    invert: bool = False

    @classmethod
    def parse(cls, text: str) -> RowFilter:
        text = text.strip()
        invert = text.startswith("!")
        return cls(text.removeprefix("!").strip().lower(), invert)

    @property
    def active(self) -> bool:
        return bool(self.needle)

    def keeps(self, row: FleetRow) -> bool:
        return row.matches(self.needle) != self.invert


def layout_keys(
    apps: Iterable[App],
    groups_rows: Mapping[str, FleetRow],
    rows: Mapping[str, FleetRow],
    *,
    sort_column: str = "id",
    reverse: bool = False,
    row_filter: RowFilter | None = None,
    sort_value: Callable[[str], Any] | None = None,
    present: Container[str] | None = None,
) -> list[str]:
    """The keys in display order: each app, then its groups by role, then their instances.

    With a filter, instance rows must match; a group or app is shown when one of its
    instances is (or, with no instances left, when its own line matches). `sort_value`
    gives an instance key's sort value (equal to `sort_key(sort_column)` of its row), so
    rows need not be built just to be ordered. `present` answers which instance keys have
    rows (default `rows`): a plain dict of the fleet answers it without a Python call per
    key. Sorted by id, instance keys are their own sort values.
    """
    flt = row_filter if row_filter is not None and row_filter.active else None
    has = rows if present is None else present
    if sort_column == "id":
        sort_value = None
    elif sort_value is None:
        key = sort_key(sort_column)

        def by_row(k: str) -> Any:
            return key(rows[k])

        sort_value = by_row
    out: list[str] = []
    for app in apps:
        app_keys: list[str] = []
        for group in sorted(app.groups, key=lambda g: (_ROLE_ORDER.get(g.role, 9), g.name)):
            members = [i for i in group.instance_ids if i in has]
            if flt is not None:
                members = [i for i in members if flt.keeps(rows[i])]
            members.sort(key=sort_value, reverse=reverse)
            grow = groups_rows.get(group.name)
            if members or (grow is not None and (flt is None or flt.keeps(grow))):
                app_keys.append(f"group:{group.name}")
                app_keys.extend(members)
        if app_keys or flt is None:
            out.append(f"app:{app.name}")
            out.extend(app_keys)
    return out


class RowStore(MutableMapping[str, FleetRow]):
    """Rows by key; a row marked stale is rebuilt by `build` on its next read.

    So a poll that changes 500 instances costs 500 marks, and only the rows someone
    reads (painted lines, a filter, the cursor) are ever built.
    """

    def __init__(self, build: Callable[[str], FleetRow | None]) -> None:
        self._rows: dict[str, FleetRow] = {}
        self._stale: set[str] = set()
        self._build = build
        self.built = 0  # rows built so far (for tests and benchmarks)

    def mark(self, key: str) -> None:
        """The row of `key` is out of date: rebuild it when it is next read."""
        self._stale.add(key)

    def __getitem__(self, key: str) -> FleetRow:
        if key in self._stale:
            self._stale.discard(key)
            row = self._build(key)
            if row is None:
                self._rows.pop(key, None)
                raise KeyError(key)
            self.built += 1
            self._rows[key] = row
            return row
        return self._rows[key]

    def __contains__(self, key: object) -> bool:
        return key in self._rows or key in self._stale

    def __setitem__(self, key: str, row: FleetRow) -> None:
        self._stale.discard(key)
        self._rows[key] = row

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._stale.discard(key)
        self._rows.pop(key, None)

    def __iter__(self) -> Iterator[str]:
        yield from self._rows
        yield from (k for k in self._stale if k not in self._rows)

    def __len__(self) -> int:
        return len(self._rows) + sum(1 for k in self._stale if k not in self._rows)
