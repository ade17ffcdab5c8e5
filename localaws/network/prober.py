"""The health prober: real HTTP checks of the targets an ALB checks, as it makes them.

One task ticks over all targets (no thread or task per target, so 5,000 fit; past
MAX_CHECKS_PER_SECOND the interval stretches) and sends each due target an HTTP GET on
its target group's health-check path, at the group's own interval, timeout and thresholds
under localaws's one time scale (localaws/timescale.py; docs/ARCHITECTURE.md §7).
Verdicts are the ELB TargetHealth API reference's states and reason codes: a group no
listener default action or rule forwards to (weight 0 counts), or a target in an AZ its load
balancer does not enable, is `unused` (Target.NotInUse) and never checked; a checked target
is `initial` (Elb.RegistrationInProgress, then Elb.InitialHealthChecking) → `healthy` after
HealthyThresholdCount passes in a row, `unhealthy` with Target.ResponseCodeMismatch /
Target.Timeout / Target.FailedHealthChecks after UnhealthyThresholdCount failures;
deregistered or ended → `draining` (Target.DeregistrationInProgress) for the deregistration
delay → gone.

Registration calls come from moto's request threads; checks run on the loop. A lock
guards the table of probes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import threading
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import aiohttp

from localaws.runtimes.base import TARGET_HEADER, InstanceRuntime
from localaws.tasks import cancel_and_wait
from localaws.timescale import scaled

log = logging.getLogger(__name__)

TICK_SECONDS = 0.1
MAX_CONCURRENT_CHECKS = 256
# The one floor under the time scale: a loaded machine (moto holding the GIL for seconds)
# must not turn a target's quick answer into Target.Timeout and a rollback.
MIN_TIMEOUT_SECONDS = 2.0
# A ceiling on checks per second: past it every target's interval stretches evenly, so
# 5,000 targets cost a bounded share of a core instead of starving moto's threads.
MAX_CHECKS_PER_SECOND = 250.0

REGISTERING = ("initial", "Elb.RegistrationInProgress", "Target registration is in progress")
INITIAL = ("initial", "Elb.InitialHealthChecking", "Initial health checks in progress")
HEALTHY = ("healthy", "", "")
NOT_IN_USE = (
    "unused",
    "Target.NotInUse",
    "Target group is not configured to receive traffic from the load balancer",
)
ZONE_NOT_ENABLED = (
    "unused",
    "Target.NotInUse",
    "Target is in an Availability Zone that is not enabled for the load balancer",
)
DRAINING = ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")
TIMEOUT = ("Target.Timeout", "Request timed out")
FAILED = ("Target.FailedHealthChecks", "Health checks failed")


@dataclass(slots=True)
class Probe:
    """One target in one target group, and what the prober knows of it."""

    tg: Any  # moto's FakeTargetGroup: its health-check settings are read live
    target_id: str
    port: int
    state: str = REGISTERING[0]
    reason: str = REGISTERING[1]
    description: str = REGISTERING[2]
    ok: int = 0
    failed: int = 0
    next_at: float = 0.0
    drain_until: float | None = None
    checking: bool = False
    checked: bool = False  # the load balancer checks it (its group is forwarded to, its AZ on)

    def set(self, state: str, reason: str = "", description: str = "") -> None:
        self.state, self.reason, self.description = state, reason, description


@dataclass(eq=False)
class HealthProber:
    """Target health for every target group, decided by real HTTP checks."""

    loop: asyncio.AbstractEventLoop
    runtime: InstanceRuntime[Any]
    instance_running: Callable[[str], bool]
    on_gone: Callable[[Any, str], None] | None = None
    _: KW_ONLY
    # Target group ARN -> AZs enabled on the load balancers forwarding to it (absent: none).
    traffic_zones: Callable[[list[Any]], dict[str, frozenset[str]]] | None = None
    zone_of: Callable[[str], str | None] | None = None  # an instance target's AZ
    # Called (from any thread) with (target id, delay) when a target starts draining.
    on_drain: Callable[[str, float], None] | None = field(init=False, default=None)
    _last_zones: dict[str, frozenset[str]] | None = field(init=False, default=None)
    _probes: dict[tuple[str, str], Probe] = field(init=False, default_factory=dict)
    # Target group ARN -> target id -> probe.
    _groups: dict[str, dict[str, Probe]] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _task: asyncio.Task[None] | None = field(init=False, default=None)
    _session: aiohttp.ClientSession | None = field(init=False, default=None)
    _slots: asyncio.Semaphore = field(
        init=False, default_factory=lambda: asyncio.Semaphore(MAX_CONCURRENT_CHECKS)
    )

    # -- called from moto's threads ----------------------------------------------------

    def register(self, tg: Any, target_id: str, port: int) -> None:
        """A target joined `tg` (again): start its initial checks unless already in."""
        key = (tg.arn, target_id)
        with self._lock:
            probe = self._probes.get(key)
            if probe is not None and probe.drain_until is None:
                return  # ASGs re-register their instances on every capacity change
            probe = Probe(tg, target_id, int(port), next_at=self.loop.time())
            self._probes[key] = probe
            self._groups.setdefault(tg.arn, {})[target_id] = probe
        self._place(probe, self._zones([tg]), self.loop.time())

    def deregister(self, tg_arn: str, target_id: str) -> None:
        """The target leaves its group: draining for the delay, then gone."""
        with self._lock:
            probe = self._probes.get((tg_arn, target_id))
            if probe is not None:
                self._drain(probe)

    def instance_ended(self, instance_id: str) -> None:
        """A stopped or terminated instance drains out of every group it was in."""
        with self._lock:
            for probe in self._probes.values():
                if probe.target_id == instance_id:
                    self._drain(probe)

    def verdict(self, tg_arn: str, target_id: str) -> tuple[str, str, str] | None:
        """(state, reason, description) of a known target, else None."""
        probe = self._probes.get((tg_arn, target_id))
        return None if probe is None else (probe.state, probe.reason, probe.description)

    def draining(self, tg_arn: str) -> list[dict[str, Any]]:
        """Targets of `tg_arn` still draining (DescribeTargetHealth lists them)."""
        with self._lock:
            return [
                {"Id": p.target_id, "Port": p.port}
                for p in self._groups.get(tg_arn, {}).values()
                if p.drain_until is not None
            ]

    def targets(self, tg_arn: str) -> list[tuple[str, str]]:
        """(target id, state) of every target of `tg_arn` (the data plane's view)."""
        with self._lock:
            return [(p.target_id, p.state) for p in self._groups.get(tg_arn, {}).values()]

    def forget_group(self, tg_arn: str) -> None:
        """The target group was deleted: stop checking its targets."""
        with self._lock:
            for target_id in self._groups.pop(tg_arn, {}):
                self._probes.pop((tg_arn, target_id), None)

    def clear(self) -> None:
        """Forget every target (moto was reset)."""
        with self._lock:
            self._probes.clear()
            self._groups.clear()

    def instance_drain_seconds(self, instance_id: str) -> float:
        """The longest deregistration delay (local seconds) of the groups holding the
        instance: how long its app must keep answering after it ends."""
        with self._lock:
            return max(
                (drain_delay(p.tg) for p in self._probes.values() if p.target_id == instance_id),
                default=0.0,
            )

    def _drain(self, probe: Probe) -> None:
        if probe.drain_until is None:
            probe.set(*DRAINING)
            delay = drain_delay(probe.tg)
            probe.drain_until = self.loop.time() + delay
            if self.on_drain is not None:
                self.on_drain(probe.target_id, delay)

    def _zones(self, groups: list[Any]) -> dict[str, frozenset[str]] | None:
        """The traffic map for `groups` (None: no map, every group counts as checked)."""
        if self.traffic_zones is None:
            return None
        try:
            return self.traffic_zones(groups)
        except RuntimeError:  # moto's request threads changed a listener under us
            return self._last_zones

    def _place(self, probe: Probe, zones: dict[str, frozenset[str]] | None, now: float) -> bool:
        """Whether the load balancer checks `probe` now; a probe that starts being checked
        starts over at `initial`, one that stops is `unused` (Target.NotInUse)."""
        if probe.drain_until is not None:
            return False
        verdict: tuple[str, str, str] | None = None
        if zones is not None:
            enabled = zones.get(probe.tg.arn)
            zone = self.zone_of(probe.target_id) if self.zone_of else None
            if enabled is None:
                verdict = NOT_IN_USE
            elif zone and enabled and zone not in enabled:
                verdict = ZONE_NOT_ENABLED
        if verdict is not None:
            probe.checked, probe.ok, probe.failed = False, 0, 0
            probe.set(*verdict)
            return False
        if not probe.checked:
            probe.checked, probe.ok, probe.failed = True, 0, 0
            probe.set(*REGISTERING)
            probe.next_at = now
        return True

    # -- the loop --------------------------------------------------------------------

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=MAX_CONCURRENT_CHECKS, force_close=False),
            auto_decompress=False,
        )
        self._task = asyncio.create_task(self._run(), name="health-prober")

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        while True:
            try:
                self._tick()
            except Exception:  # one bad tick must not end every health check
                log.exception("health prober tick failed")
            await asyncio.sleep(TICK_SECONDS)

    def _tick(self) -> None:
        now = self.loop.time()
        gone: list[Probe] = []
        with self._lock:
            probes = list(self._probes.items())
        stretch = len(probes) / MAX_CHECKS_PER_SECOND
        zones = self._zones([p.tg for _, p in probes])
        self._last_zones = zones
        for key, probe in probes:
            if probe.drain_until is not None:
                if now >= probe.drain_until:
                    gone.append(probe)
                    with self._lock:
                        if self._probes.get(key) is probe:
                            del self._probes[key]
                            group = self._groups.get(key[0], {})
                            group.pop(key[1], None)
                            if not group:
                                self._groups.pop(key[0], None)
                continue
            if not self._place(probe, zones, now) or probe.checking or now < probe.next_at:
                continue
            interval = self._interval(probe.tg)
            # Stretched intervals get jitter, so a batch registered together spreads out.
            probe.next_at = now + (
                interval if stretch <= interval else stretch * random.uniform(0.8, 1.2)
            )
            if probe.target_id.startswith("i-") and not self.instance_running(probe.target_id):
                continue  # registered while pending: still Elb.RegistrationInProgress
            if probe.reason == REGISTERING[1]:
                probe.set(*INITIAL)
            if not getattr(probe.tg, "health_check_enabled", True):
                probe.set(*HEALTHY)
                continue
            probe.checking = True
            self.loop.create_task(self._check(probe))
        for probe in gone:
            if self.on_gone is not None:
                try:
                    self.on_gone(probe.tg, probe.target_id)
                except Exception:
                    log.exception("forgetting drained target %s failed", probe.target_id)

    async def _check(self, probe: Probe) -> None:
        try:
            async with self._slots:
                failure = await self._probe_once(probe)
        finally:
            probe.checking = False
        if probe.drain_until is not None or not probe.checked:
            return  # drained or out of use while the check was in flight
        self._judge(probe, failure)

    async def _probe_once(self, probe: Probe) -> tuple[str, str] | None:
        """None when the check passed, else (reason code, description)."""
        tg = probe.tg
        address = self._address(probe)
        if address is None:
            return FAILED
        host, port = address
        path = tg.health_check_path or "/"
        timeout = max(scaled(float(tg.health_check_timeout_seconds or 5)), MIN_TIMEOUT_SECONDS)
        assert self._session is not None
        try:
            async with self._session.get(
                f"http://{host}:{port}{path}",
                headers={TARGET_HEADER: probe.target_id},
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as response:
                await response.read()
                code = response.status
        except TimeoutError:
            return TIMEOUT
        except (aiohttp.ClientError, OSError):
            return FAILED
        if _code_matches(code, (getattr(tg, "matcher", None) or {}).get("HttpCode", "200")):
            return None
        return ("Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{code}]")

    def _address(self, probe: Probe) -> tuple[str, int] | None:
        if probe.target_id.startswith("i-"):
            return self.runtime.address(probe.target_id)
        return (probe.target_id, probe.port)  # an ip target

    def _judge(self, probe: Probe, failure: tuple[str, str] | None) -> None:
        tg = probe.tg
        if failure is None:
            probe.ok, probe.failed = probe.ok + 1, 0
            if probe.state != "healthy" and probe.ok >= self._healthy_threshold(tg):
                probe.set(*HEALTHY)
            return
        probe.ok, probe.failed = 0, probe.failed + 1
        if probe.state == "unhealthy" or probe.failed >= self._unhealthy_threshold(tg):
            probe.set("unhealthy", *failure)

    # -- timers: the target group's own settings, on localaws's time scale ------------------

    def _interval(self, tg: Any) -> float:
        return scaled(float(tg.health_check_interval_seconds or 30))

    def _healthy_threshold(self, tg: Any) -> int:
        return max(1, int(tg.healthy_threshold_count or 5))

    def _unhealthy_threshold(self, tg: Any) -> int:
        return max(1, int(tg.unhealthy_threshold_count or 2))


def drain_delay(tg: Any) -> float:
    """The deregistration delay of `tg` (AWS's default 300 s), in local seconds."""
    return scaled(float(tg.attributes.get("deregistration_delay.timeout_seconds", 300)))


def _code_matches(code: int, matcher: str) -> bool:
    """ELB matcher syntax: "200", "200,202", "200-299"."""
    for part in re.split(r"\s*,\s*", str(matcher).strip()):
        low, _, high = part.partition("-")
        with contextlib.suppress(ValueError):
            if int(low) <= code <= int(high or low):
                return True
    return False
