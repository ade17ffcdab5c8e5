"""The fleet observer: a fresh FleetSnapshot per tick and its diff with the previous one.

Built for big fleets, and for an account where every tool shares ELB's API budget (10
Describe calls a second, ARCHITECTURE §4). A steady tick makes only cheap calls: the ASGs
tagged `freshfleet:app`, the instance states (`describe_instance_status` by id, only for
instances not steadily running in their ASG) and the ledger (the locks; boot phases not yet
final; the running rollouts only when a lock is or was just held, a rollout runs, or the
groups changed). ELB is asked each tick only about what moves: the target health of groups
in a rollout, not all healthy, or whose members changed, and the listeners' weights while an
app is in a rollout; a steady group's health and the weights are read again at most
`steady_seconds` apart (a change there is seen within that and one tick), and the walk over
the load balancers that finds each app's listener runs at start, when an app has none, when a
listener goes away, and every `walk_every` ticks. `describe_instances` runs only for
instances it has not seen or whose state changed. For a big fleet, every
big response is fetched and parsed on a worker thread, and so is the work over every
instance (indexing, building the snapshot, the diff), so the event loop keeps drawing.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from rollout.aws.eventual import instance_states
from rollout.aws.gateway import AwsError, CredentialsError, Gateway, in_thread
from rollout.config import Tables
from rollout.fleet.diff import diff_snapshots
from rollout.fleet.records import (
    InstanceRecord,
    TargetHealthFields,
    app_of,
    group_of,
    group_role,
    instance_of,
    latest_per_app,
    parse_instances,
    target_health_fields,
)
from rollout.fleet.traffic import TrafficPoint, discover_traffic, read_all_weights
from rollout.heap import freeze_heap
from rollout.ledger.batch import batch_get
from rollout.ledger.codec import from_item, to_item
from rollout.ledger.history import active_rollouts
from rollout.ledger.instances import InstanceBoot, latest_phases
from rollout.ledger.locks import lock_of
from rollout.ledger.rollout_item import RolloutItem
from rollout.ledger.vocabulary import RolloutState
from rollout.model import (
    TAG_APP,
    FleetDiff,
    FleetSnapshot,
    GroupRole,
    Instance,
    InstanceState,
    LockInfo,
    ServerGroup,
    TargetHealth,
)

T = TypeVar("T")

_FILTER_VALUES = 200  # EC2 accepts at most 200 values per filter
_GONE_CODES = {"ListenerNotFound", "RuleNotFound", "LoadBalancerNotFound"}
_MISSING_TABLE = "ResourceNotFoundException"


class CallCounter:
    """Counts AWS calls by `service:Operation`, fed by botocore's `before-call` event."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, event_name: str = "", **kwargs: Any) -> None:
        # event_name is `before-call.<service id>.<Operation>`
        rest = event_name.partition(".")[2]
        service, _, operation = rest.partition(".")
        self.counts[f"{service}:{operation}"] += 1

    def mark(self) -> Counter[str]:
        """A copy of the counts, to subtract later: `counter.since(mark)`."""
        return Counter(self.counts)

    def since(self, mark: Counter[str]) -> Counter[str]:
        """The calls made after `mark` was taken."""
        return self.counts - mark


class FleetObserver:
    """Polls the fleet; `tick()` once, or `async for snapshot, diff in observer.run()`.

    One poll is in flight at a time: `run()` sleeps `interval` after a tick finishes and
    only then starts the next, so a slow tick delays the next one instead of piling up.
    `calls` counts every AWS call made through the gateway (for tests and benchmarks).
    A big fleet's first snapshot freezes the heap (`rollout.heap`) unless `freeze_heap` is
    False: a face that freezes it itself, at a moment of its own, says so.
    """

    def __init__(
        self,
        gateway: Gateway,
        tables: Tables,
        *,
        interval: float = 2.0,
        rediscover_every: int = 30,
        walk_every: int = 150,
        steady_seconds: float | None = None,
        thread_sweep_over: int = 250,
        clock: Callable[[], float] = time.monotonic,
        freeze_heap: bool = True,
    ) -> None:
        self.gateway = gateway
        self.tables = tables
        self.interval = interval
        self.rediscover_every = rediscover_every
        self.walk_every = walk_every
        # A steady group's health and the weights: read again every 10 ticks' worth (20 s
        # at the console's 2 s), so 20 apps cost ELB about 1 call a second.
        self.steady_seconds = 10 * interval if steady_seconds is None else steady_seconds
        self.thread_sweep_over = thread_sweep_over
        self.clock = clock
        # A face that freezes the heap itself (the console, after its first frame) says no.
        self.freezes_heap = freeze_heap
        self.calls = CallCounter()
        gateway.register("before-call", self.calls)
        self.previous: FleetSnapshot | None = None
        self._ticks = 0
        self._traffic: dict[str, TrafficPoint] = {}
        self._walked_at = -1  # the tick of the last walk over the load balancers
        self._weights_read: tuple[float, dict[str, dict[str, int]]] | None = None
        self._tg_health: dict[str, tuple[float, dict[str, TargetHealth]]] = {}
        self._active: frozenset[str] = frozenset()  # apps locked or in a rollout, last tick
        self._unplaced: frozenset[str] | None = None  # apps without a traffic point
        self._described: dict[str, InstanceRecord] = {}
        self._settled: set[str] = set()  # running, InService and Healthy when last asked
        self._boots: dict[str, InstanceBoot] = {}
        self._boot_settled: set[str] = set()  # healthy and checked: no more boot lookups
        self._backend_label = ""
        self._detached: list[RolloutItem] = []  # refreshed at each rediscovery
        self._rollouts_seen: list[RolloutItem] = []  # the last read of the rollouts table
        self._held: frozenset[str] = frozenset()  # apps whose lock was held last tick
        self._shape: frozenset[Any] = frozenset()  # the groups as of last tick
        self._verdicts: dict[TargetHealthFields, TargetHealth] = {}
        self._instances: dict[
            str,
            tuple[tuple[InstanceRecord, TargetHealth | None, InstanceBoot | None], str, Instance],
        ] = {}

    async def run(self) -> AsyncIterator[tuple[FleetSnapshot, FleetDiff]]:
        """Yield (snapshot, diff) forever, one tick at a time, `interval` between them.

        A failed tick yields the previous snapshot with the error in `warnings` and an
        empty diff, and polling goes on; only credential errors end the loop.
        """
        while True:
            try:
                yield await self.tick()
            except CredentialsError:
                raise
            except AwsError as exc:
                last = self.previous or FleetSnapshot(taken_at=datetime.now(UTC))
                yield replace(last, warnings=(*last.warnings, str(exc))), FleetDiff()
            await asyncio.sleep(self.interval)

    async def tick(self) -> tuple[FleetSnapshot, FleetDiff]:
        """Take one snapshot and diff it with the previous one.

        For a big fleet the garbage collector's automatic runs wait until the tick ends.
        """
        was_big = self.previous is not None and len(self.previous.instances) > (
            self.thread_sweep_over
        )
        paused = was_big and gc.isenabled()
        if paused:
            # A tick parses a few hundred thousand short-lived objects (the responses);
            # their churn set off 2-3 full collections per tick at 5,000 instances, each
            # holding the GIL up to 65 ms whichever thread ran it: the loop stalled. The
            # parsed responses are freed by reference counting as the tick goes; what
            # cyclic garbage it leaves is collected after it, by the usual thresholds.
            gc.disable()
        try:
            snapshot = await self.poll()
            big = len(snapshot.instances) > self.thread_sweep_over
            diff = await self._off_loop(big, diff_snapshots, self.previous, snapshot)
        finally:
            if paused:
                gc.enable()
        first_big = self.previous is None and len(snapshot.instances) > self.thread_sweep_over
        if first_big and self.freezes_heap:
            # What lives now (the SDK's service models, the fleet) lives on: keep it out of
            # the full garbage collections the parsing triggers, which walk the whole heap
            # with every thread stopped (at 1,000 instances 166-205 ms: the loop stalls).
            freeze_heap()
        self.previous = snapshot
        return snapshot, diff

    async def poll(self) -> FleetSnapshot:
        """One fresh FleetSnapshot (no diff, `previous` untouched)."""
        warnings: list[str] = []
        rediscover = self._unplaced is None or self._ticks % self.rediscover_every == 0
        if rediscover:
            walk = self._walked_at < 0 or self._ticks - self._walked_at >= self.walk_every
            await self._discover(walk=walk)
        self._ticks += 1

        # Until the fleet is known to be small, big responses are parsed on a thread.
        big = self.previous is None or len(self.previous.instances) > self.thread_sweep_over
        sweep = self.gateway.paginate_in_thread if big else self.gateway.paginate
        asgs, weights, label = await asyncio.gather(
            sweep(
                "autoscaling",
                "describe_auto_scaling_groups",
                "AutoScalingGroups",
                Filters=[{"Name": "tag-key", "Values": [TAG_APP]}],
            ),
            self._weights(),
            self._label(),
        )
        statuses = await self._statuses(asgs)
        groups, states, membership = await self._off_loop(big, _index, asgs, statuses)
        unplaced = frozenset(g.app for g in groups) - set(self._traffic)
        if unplaced != self._unplaced:  # a new app (or one lost its listener): look again
            await self._discover()
            weights = await self._weights(fresh=True)

        apps_named = sorted({g.app for g in groups} | set(self._traffic))
        # The rollouts are read after the ASGs: a rollout's item is written before its
        # group, so every group seen here has its rollout seen too. The rollouts table is
        # read only when something may have moved (see `_rollouts_due`); the locks, every
        # tick: a rollout takes its app's lock before it writes anything.
        shape = frozenset((g.name, g.rollout_id, g.role) for g in groups)
        due = self._rollouts_due(rediscover, shape, locks_held=bool(self._held))
        locks, rollouts, _ = await asyncio.gather(
            self._ledger(self._locks(apps_named), {}, warnings),
            self._ledger(self._rollouts(refresh_detached=rediscover), None, warnings)
            if due
            else _none(),
            self._describe(membership, states, big),
        )
        if rollouts is None and locks and not due:  # a lock was just taken: look now
            rollouts = await self._ledger(self._rollouts(refresh_detached=False), None, warnings)
        if rollouts is not None:
            self._rollouts_seen = rollouts
        self._held = frozenset(locks)
        self._shape = shape

        running = latest_per_app(self._rollouts_seen)
        self._active = frozenset(locks) | frozenset(running)
        groups = [
            replace(
                g,
                weight=weights.get(g.app, {}).get(g.target_group_arn, 0),
                role=group_role(g, weights.get(g.app, {}), running.get(g.app), groups),
            )
            for g in groups
        ]
        health = await self._health([g for g in groups if g.role is not GroupRole.IDLE], big)
        for gone in set(self._tg_health) - {g.target_group_arn for g in groups}:
            del self._tg_health[gone]
        alive = await self._off_loop(big, self._alive)
        await self._ledger(self._read_boots(alive, health), None, warnings)
        instances = await self._off_loop(big, self._instances_of, alive, membership, health)
        apps = tuple(
            app_of(name, self._traffic.get(name), groups, locks.get(name), running.get(name))
            for name in apps_named
        )
        return FleetSnapshot(
            taken_at=datetime.now(UTC),
            apps=apps,
            instances=instances,
            backend=label,
            warnings=tuple(warnings),
        )

    def _rollouts_due(self, rediscover: bool, shape: frozenset[Any], *, locks_held: bool) -> bool:
        """Whether this tick reads the rollouts table before it knows the locks.

        It does at rediscovery, while a lock was held on the previous tick (a rollout runs,
        or has just ended and released it), while a rollout seen last time still runs, and
        when the server groups changed (a new group, one gone, one being deleted): a group
        the serving one does not explain may belong to a rollout. On a quiet fleet none of
        these hold and the table is not read; a lock taken since the previous tick makes
        `poll` read it right after the locks, so a new rollout shows on the tick after its
        lock (or the same one).
        """
        return (
            rediscover
            or locks_held
            or shape != self._shape
            or any(r.state == RolloutState.RUNNING for r in self._rollouts_seen)
        )

    async def _rollouts(self, *, refresh_detached: bool) -> list[RolloutItem]:
        """Running rollouts every tick; detached ones (rare, slow to change) at rediscovery
        and when a rollout seen running is no longer."""
        if refresh_detached:
            running, self._detached = await asyncio.gather(
                active_rollouts(self.gateway, self.tables, (RolloutState.RUNNING,)),
                active_rollouts(self.gateway, self.tables, (RolloutState.DETACHED,)),
            )
        else:
            running = await active_rollouts(self.gateway, self.tables, (RolloutState.RUNNING,))
            was = {
                (r.app, r.rollout_id)
                for r in self._rollouts_seen
                if r.state == RolloutState.RUNNING
            }
            if was - {(r.app, r.rollout_id) for r in running}:
                # A rollout stopped running: ended, or detached (a deploy interrupted in its
                # bake) and still unfinished, as a one-off read (`status`) would see it.
                self._detached = await active_rollouts(
                    self.gateway, self.tables, (RolloutState.DETACHED,)
                )
        # A detached rollout that was resumed shows up as running: that one wins.
        live = {(r.app, r.rollout_id) for r in running}
        return [*running, *(r for r in self._detached if (r.app, r.rollout_id) not in live)]

    async def _discover(self, *, walk: bool = True) -> None:
        """Which apps have server groups (the ASGs' tags) and, with `walk`, each app's
        listener or rule (a walk over every load balancer: ELB calls per load balancer)."""
        if walk:
            self._traffic = await discover_traffic(self.gateway)
            self._walked_at = self._ticks
        asg_apps = {
            t["Value"]
            for t in await self.gateway.paginate(
                "autoscaling",
                "describe_tags",
                "Tags",
                Filters=[{"Name": "key", "Values": [TAG_APP]}],
            )
        }
        self._unplaced = frozenset(asg_apps - set(self._traffic))

    async def _weights(self, *, fresh: bool = False) -> dict[str, dict[str, int]]:
        """Each app's forward weights: read while an app is in a rollout (or just was) or
        a listener moved, else the last read while it is under `steady_seconds` old."""
        now = self.clock()
        last = self._weights_read
        if (
            not fresh
            and last is not None
            and not self._active
            and now - last[0] < self.steady_seconds
        ):
            return last[1]
        try:
            weights = await read_all_weights(self.gateway, self._traffic)
        except AwsError as exc:
            if exc.code not in _GONE_CODES:
                raise
            await self._discover()  # a listener or rule went away: find the current ones
            weights = await read_all_weights(self.gateway, self._traffic)
        self._weights_read = (now, weights)
        return weights

    async def _label(self) -> str:
        if not self._backend_label:
            backend = self.gateway.backend
            if backend.local:
                self._backend_label = backend.label
            else:
                account = await self.gateway.account_id()
                self._backend_label = f"{account} {await self.gateway.region()}".strip()
        return self._backend_label

    async def _statuses(self, asgs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The EC2 state of freshfleet's instances, as DescribeInstanceStatus items.

        Never region-wide (which pages over every instance of the account, and for an hour
        over every one just terminated): the members come from the ASGs' `Instances[]`. A
        member EC2 last said was running, which its ASG still holds `InService` and
        `Healthy`, is running without asking; EC2 is asked by id about the others (new,
        launching, unhealthy, leaving) and about instances that left their group and are not
        yet seen terminated. An id EC2 does not know yet is left out (still launching).
        """
        members = {str(i["InstanceId"]): i for a in asgs for i in a.get("Instances", [])}

        def steady(i: str) -> bool:
            m = members[i]
            return bool(
                m.get("LifecycleState") == "InService" and m.get("HealthStatus") == "Healthy"
            )

        quiet = {i for i in members if i in self._settled and steady(i)}
        leaving = {
            i
            for i, d in self._described.items()
            if i not in members and d.state is not InstanceState.TERMINATED
        }
        ask = sorted((set(members) - quiet) | leaving)
        found = await instance_states(self.gateway, ask) if ask else {}
        self._settled = quiet | {
            i for i, state in found.items() if state == "running" and i in members and steady(i)
        }
        return [
            {"InstanceId": i, "InstanceState": {"Name": state}}
            for i, state in [*((i, "running") for i in sorted(quiet)), *found.items()]
        ]

    async def _off_loop(self, big: bool, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)`: on a worker thread for a big fleet, so the loop keeps running.

        Work over every instance (indexing the responses, building the snapshot, the
        diff) takes tens of milliseconds at 5,000 instances; one tick runs at a time, so
        the observer's own state is touched by one thread at a time.
        """
        return await in_thread(fn, *args) if big else fn(*args)

    def _alive(self) -> dict[str, InstanceRecord]:
        """The described instances that are not terminated."""
        return {i: d for i, d in self._described.items() if d.state is not InstanceState.TERMINATED}

    def _instances_of(
        self,
        alive: Mapping[str, InstanceRecord],
        membership: Mapping[str, ServerGroup],
        health: Mapping[str, TargetHealth],
    ) -> dict[str, Instance]:
        """The snapshot's instances, sorted by id; forgets the cache entries of the gone."""
        instances = {
            i: self._instance(i, alive[i], membership.get(i), health) for i in sorted(alive)
        }
        for gone in set(self._instances) - set(instances):
            del self._instances[gone]
        return instances

    def _to_describe(
        self, membership: Mapping[str, ServerGroup], states: Mapping[str, InstanceState]
    ) -> list[str]:
        """The instances to describe (new, or with a new state); forgets the vanished."""
        candidates = set(membership) | set(self._described)
        todo: list[str] = []
        for i in sorted(candidates):
            known = self._described.get(i)
            state = states.get(i)
            if state is None:
                if i not in membership:  # gone from EC2 and from its group: forget it
                    self._forget(i)
                elif known is None:
                    todo.append(i)
                continue
            if known is None or known.state is not state:
                todo.append(i)
        return todo

    async def _describe(
        self,
        membership: Mapping[str, ServerGroup],
        states: Mapping[str, InstanceState],
        big: bool,
    ) -> None:
        """Refresh `_described` for new instances and those whose state changed."""
        todo = await self._off_loop(big, self._to_describe, membership, states)
        if not todo:
            return
        chunks = [todo[n : n + _FILTER_VALUES] for n in range(0, len(todo), _FILTER_VALUES)]
        big = len(todo) > self.thread_sweep_over
        sweep = self.gateway.paginate_in_thread if big else self.gateway.paginate
        pages = await asyncio.gather(
            *(
                sweep(
                    "ec2",
                    "describe_instances",
                    "Reservations",
                    Filters=[{"Name": "instance-id", "Values": c}],
                )
                for c in chunks
            )
        )
        reservations = [r for page in pages for r in page]
        described = (
            await in_thread(parse_instances, reservations) if big else parse_instances(reservations)
        )
        for i in todo:
            if i in described:
                # The status call is the fresher view: keep its state, so a lagging
                # describe_instances does not make every tick describe the instance again.
                self._described[i] = replace(described[i], state=states.get(i, described[i].state))
                self._boot_settled.discard(i)  # a new state (a reboot?) may bring new phases
            elif i not in membership:
                self._forget(i)

    def _forget(self, instance_id: str) -> None:
        self._instances.pop(instance_id, None)
        self._described.pop(instance_id, None)
        self._boots.pop(instance_id, None)
        self._boot_settled.discard(instance_id)

    async def _health(self, groups: Iterable[ServerGroup], big: bool) -> dict[str, TargetHealth]:
        """Target id -> health for the targets of `groups`; a steady group's from its last
        read (see `_steady`), every other group's read now."""
        now = self.clock()
        wanted = {g.target_group_arn: g for g in groups if g.target_group_arn}
        arns = sorted(a for a, g in wanted.items() if not self._steady(g, now))
        if big:  # parsed on threads, only the fields used
            calls = [self.gateway.target_health_in_thread(arn) for arn in arns]
        else:
            calls = [
                self.gateway.call("elbv2", "describe_target_health", TargetGroupArn=arn)
                for arn in arns
            ]
        results = await asyncio.gather(*calls)
        read = await self._off_loop(big, lambda: [self._verdicts_of([r]) for r in results])
        for arn, verdicts in zip(arns, read, strict=True):
            self._tg_health[arn] = (now, verdicts)
        health: dict[str, TargetHealth] = {}
        for arn in wanted:
            health.update(self._tg_health[arn][1])
        return health

    def _steady(self, group: ServerGroup, now: float) -> bool:
        """Whether `group`'s last health read stands: read under `steady_seconds` ago, the
        group serving an app that is in no rollout and holds no lock, every target healthy
        then, and its targets then its members now."""
        last = self._tg_health.get(group.target_group_arn)
        if last is None or now - last[0] >= self.steady_seconds:
            return False
        if group.role is not GroupRole.SERVING or group.app in self._active:
            return False
        verdicts = last[1]
        return set(verdicts) == set(group.instance_ids) and all(
            v.healthy for v in verdicts.values()
        )

    def _verdicts_of(self, results: Iterable[Mapping[str, Any]]) -> dict[str, TargetHealth]:
        """Target id -> its health, from DescribeTargetHealth responses."""
        health: dict[str, TargetHealth] = {}
        for out in results:
            for desc in out.get("TargetHealthDescriptions", []):
                key = target_health_fields(desc)
                # One object per distinct verdict, so an unchanged instance is recognized by
                # identity (see `_instance`).
                health[desc["Target"]["Id"]] = self._verdicts.setdefault(key, TargetHealth(*key))
        return health

    def _instance(
        self,
        instance_id: str,
        described: InstanceRecord,
        group: ServerGroup | None,
        health: Mapping[str, TargetHealth],
    ) -> Instance:
        """The instance's snapshot entry, the previous object itself when nothing changed.

        Reusing the object keeps a steady tick of thousands of instances cheap to build
        and to diff (an identity check instead of a field-by-field comparison).
        """
        inputs = (described, health.get(instance_id), self._boots.get(instance_id))
        name = group.name if group else ""
        cached = self._instances.get(instance_id)
        if cached is not None:
            (old_described, old_health, old_boot), old_name, instance = cached
            if (
                old_described is inputs[0]
                and old_health is inputs[1]
                and old_boot is inputs[2]
                and old_name == name
            ):
                return instance
        instance = instance_of(instance_id, described, group, inputs[1], inputs[2])
        self._instances[instance_id] = (inputs, name, instance)
        return instance

    async def _read_boots(
        self, alive: Mapping[str, InstanceRecord], health: Mapping[str, TargetHealth]
    ) -> None:
        """Boot phases of instances whose boot can still change; healthy ones settle."""
        todo = [
            i
            for i in alive
            if i not in self._boot_settled and not (i in self._boots and self._boots[i].final)
        ]
        if not todo:
            return
        self._boots.update(await latest_phases(self.gateway, self.tables, todo))
        for i in todo:
            if i in health and health[i].healthy:
                self._boot_settled.add(i)

    async def _locks(self, apps: list[str]) -> dict[str, LockInfo]:
        if not apps:
            return {}
        keys = [to_item({"app": a}) for a in apps]  # every app, 100 a call
        found = await batch_get(self.gateway, self.tables.locks, keys)
        now = datetime.now(UTC)
        locks: dict[str, LockInfo] = {}
        for item in found:
            lock = lock_of(from_item(item))
            if lock.expires_at > now:  # an unreadable expiry reads as long over
                locks[lock.app] = lock
        return locks

    async def _ledger(self, work: Any, default: Any, warnings: list[str]) -> Any:
        """Await a ledger read; a missing table becomes a warning and `default`."""
        try:
            return await work
        except AwsError as exc:
            if exc.code != _MISSING_TABLE:
                raise
            note = "ledger tables missing: run `freshfleet setup`"
            if note not in warnings:
                warnings.append(note)
            return default


def _index(
    asgs: Iterable[Mapping[str, Any]], statuses: Iterable[Mapping[str, Any]]
) -> tuple[list[ServerGroup], dict[str, InstanceState], dict[str, ServerGroup]]:
    """The server groups, each instance's state, and each grouped instance's group."""
    groups = [group_of(a) for a in asgs]
    states = {s["InstanceId"]: InstanceState(s["InstanceState"]["Name"]) for s in statuses}
    membership = {i: g for g in groups for i in g.instance_ids}
    return groups, states, membership


async def _none() -> None:
    """Nothing, as an awaitable (a read that this tick skips)."""
    return None
