"""The simulated instance runtime: boot phases on timers, one HTTP server for every app.

Each instance prints the boot agent's phase lines (ARCHITECTURE §6) to its console and writes
them to the instances table; once its `run` phase is ok its "app" answers on the shared
server, routed by the TARGET_HEADER, so 5,000 instances need one socket, not 5,000.
Failure injection comes from FRESHFLEET_SIMULATE: `fail=<phase>`, `never_healthy=1`,
`crash_after=<seconds>`, `health_delay=<seconds>` (the health path answers that late), and,
for releases that are healthy yet bad on real requests, `error_share=<0..1>` (that share of
them answers 500) and `slow_factor=<N>` (N times slower).
Pending time and phases are AWS seconds on localaws's time scale; so is the health phase of
a release that never answers 2xx: it reports `health fail` with the last answer once the
agent's health deadline (FRESHFLEET_HEALTH_TIMEOUT in the env file, else the agent's default)
has passed, as the agent does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bootscript.agent.health import DEFAULT_TIMEOUT_SECONDS, failure_detail
from localaws.http_server import serve_on_loopback
from localaws.runtimes.base import (
    TARGET_HEADER,
    InstanceLaunch,
    InstanceRuntime,
    RuntimeHost,
    RuntimeInstance,
)
from localaws.runtimes.tablewriter import InstancesTableWriter
from localaws.timescale import scaled
from rollout.ledger.instances import instance_arn
from rollout.userdata import decode_simulate

PHASES = ("fetch", "verify", "extract", "build", "run", "health")
WORK_SECONDS = 0.01  # what a request costs the demo app (as bootscript/releases' app.py)
log = logging.getLogger(__name__)


def _iso(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z") if at else ""


def boot_line(phase: str, status: str, detail: str = "", at: datetime | None = None) -> str:
    """One phase line exactly as the boot agent prints it (ARCHITECTURE §6)."""
    stamp = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"freshfleet-boot {stamp} {phase} {status}" + (f" {detail}" if detail else "")


@dataclass(slots=True, kw_only=True)
class SimulatedInstance(RuntimeInstance):
    """A simulated instance's state (its app is up after `run ok`)."""

    simulate: dict[str, str]
    healthy_since: float | None = None  # loop time of the first healthy answer
    started_at: datetime | None = None  # its first phase: boot statistics count from it
    timers: list[asyncio.TimerHandle] = field(default_factory=list)

    @property
    def app(self) -> str:
        return self.launch.env.get("FRESHFLEET_APP", "app")

    @property
    def version(self) -> str:
        return self.launch.env.get("FRESHFLEET_VERSION", "unknown")


class SimulatedRuntime(InstanceRuntime[SimulatedInstance]):
    """Instances that boot on timers and answer on one shared aiohttp server."""

    name = "simulated"

    def __init__(self, host: RuntimeHost) -> None:
        super().__init__(host)
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._writer = InstancesTableWriter(host.endpoint_url, host.region)

    @property
    def port(self) -> int:
        """The shared server's port (every simulated app answers there)."""
        return self._port

    async def open(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner, self._port = await serve_on_loopback(app)
        await self._writer.open()

    async def close(self) -> None:
        for instance_id in list(self._instances):
            self._forget(instance_id)
        await self._writer.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- the runtime interface -------------------------------------------------------

    def start(self, launch: InstanceLaunch) -> None:
        simulate = decode_simulate(launch.env.get("FRESHFLEET_SIMULATE", ""))
        sim = SimulatedInstance(launch, simulate=simulate)
        self._keep(
            sim, "[    0.000000] Linux version 6.1.0-freshfleet (localaws simulated instance)"
        )
        self._later(sim, scaled(self.host.timers.pending_seconds), self._started, sim)

    def _app_port(self, inst: SimulatedInstance) -> int:
        return self._port  # every simulated app answers on the shared server

    def _halt(self, inst: SimulatedInstance) -> None:
        for handle in inst.timers:
            handle.cancel()
        inst.timers.clear()

    def _retire(self, inst: SimulatedInstance) -> None:
        self._forget(inst.launch.instance_id)

    # -- the boot ----------------------------------------------------------------------

    def _started(self, sim: SimulatedInstance) -> None:
        self.host.mark_running(sim.launch.instance_id)
        self._print(sim, "cloud-init: wrote /etc/freshfleet/release.env")
        if not sim.launch.env:
            self._print(sim, "cloud-init: no freshfleet user data; nothing to boot")
            return
        self._print(sim, "Starting freshfleet-boot.service - freshfleet boot agent...")
        self._phase(sim, 0)

    def _phase(self, sim: SimulatedInstance, index: int) -> None:
        phase = PHASES[index]
        self._report(sim, phase, "start", self._start_detail(sim, phase))
        if phase == "health" and self._never_healthy(sim):
            # The agent polls until its deadline, then reports the last answer it got.
            deadline = self._health_deadline(sim)
            self._later(sim, scaled(deadline), self._health_failed, sim, deadline)
            return
        self._later(sim, scaled(self.host.timers.phase_seconds), self._phase_done, sim, index)

    def _never_healthy(self, sim: SimulatedInstance) -> bool:
        return sim.simulate.get("never_healthy") not in (None, "", "0")

    def _health_deadline(self, sim: SimulatedInstance) -> float:
        """The agent's health deadline in AWS seconds, as its env file gives it."""
        try:
            return float(sim.launch.env.get("FRESHFLEET_HEALTH_TIMEOUT") or DEFAULT_TIMEOUT_SECONDS)
        except ValueError:
            return DEFAULT_TIMEOUT_SECONDS

    def _health_failed(self, sim: SimulatedInstance, deadline: float) -> None:
        env = sim.launch.env
        url = f"http://127.0.0.1:{env.get('APP_PORT', '8080')}{env.get('HEALTH_PATH', '/health')}"
        last = "HTTP 500 Internal Server Error"  # what _handle answers a never-healthy app
        detail = failure_detail(url, deadline, last) + " (never healthy)"
        self._report(sim, "health", "fail", detail)
        self._print(sim, "freshfleet-boot.service: Failed with result 'exit-code'.")

    def _phase_done(self, sim: SimulatedInstance, index: int) -> None:
        phase = PHASES[index]
        if sim.simulate.get("fail") == phase:
            self._report(sim, phase, "fail", f"simulated failure of {phase} (FRESHFLEET_SIMULATE)")
            self._print(sim, "freshfleet-boot.service: Failed with result 'exit-code'.")
            return
        if phase == "run":
            sim.app_up = True
        self._report(sim, phase, "ok", self._ok_detail(sim, phase))
        if index + 1 < len(PHASES):
            self._phase(sim, index + 1)
        else:
            sim.healthy_since = self.host.loop.time()
            self._print(sim, "Finished freshfleet-boot.service - freshfleet boot agent.")
            crash = sim.simulate.get("crash_after")
            if crash:
                with contextlib.suppress(ValueError):
                    line = f"{sim.app}[{sim.version}]: crashed {float(crash):g} s after healthy"
                    self._later(sim, float(crash), self._print, sim, line)

    def _start_detail(self, sim: SimulatedInstance, phase: str) -> str:
        env = sim.launch.env
        return {
            "fetch": env.get("RELEASE_URL", ""),
            "run": f"port {env.get('APP_PORT', '8080')}",
            "health": env.get("HEALTH_PATH", "/health"),
        }.get(phase, "")

    def _ok_detail(self, sim: SimulatedInstance, phase: str) -> str:
        return {
            "verify": f"sha256 {sim.launch.env.get('RELEASE_SHA256', '')[:12]}",
            "build": f"{sim.app}:{sim.version}",
            "health": "deployed",
        }.get(phase, "")

    # -- the shared app server ---------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        instance_id = request.headers.get(TARGET_HEADER, "")
        sim = self._instances.get(instance_id)
        if sim is None or not sim.app_up:
            raise web.HTTPBadGateway(text=f"no simulated app for {instance_id or '(no target)'}\n")
        body = f"{sim.app} {sim.version} {instance_id}\n"
        # `?delay=S` (at most 30 s) answers late: a request in flight while traffic moves.
        with contextlib.suppress(ValueError):
            delay = min(float(request.query.get("delay", "0")), 30.0)
            if delay > 0:
                await asyncio.sleep(delay)
        if request.path == sim.launch.env.get("HEALTH_PATH", "/health"):
            with contextlib.suppress(ValueError):
                late = min(float(sim.simulate.get("health_delay") or 0), 30.0)
                if late > 0:
                    await asyncio.sleep(late)
            if not self._healthy(sim):
                return web.Response(status=500, text=f"unhealthy: {body}")
            return web.Response(text=f"ok {body}")
        # The demo app's work per request; `slow_factor` and `error_share` make a release
        # that passes its health check and is still worse on real requests (v5, v4).
        with contextlib.suppress(ValueError):
            await asyncio.sleep(WORK_SECONDS * float(sim.simulate.get("slow_factor") or 1))
        with contextlib.suppress(ValueError):
            if random.random() < float(sim.simulate.get("error_share") or 0):
                return web.Response(status=500, text=f"failed: {body}")
        return web.Response(text=body)

    def _healthy(self, sim: SimulatedInstance) -> bool:
        if self._never_healthy(sim):
            return False
        crash = sim.simulate.get("crash_after")
        if crash and sim.healthy_since is not None:
            with contextlib.suppress(ValueError):
                if self.host.loop.time() - sim.healthy_since >= float(crash):
                    return False
        return True

    # -- helpers -----------------------------------------------------------------------

    def _report(self, sim: SimulatedInstance, phase: str, status: str, detail: str = "") -> None:
        now = datetime.now(UTC)
        sim.started_at = sim.started_at or now
        self._print(sim, boot_line(phase, status, detail, now))
        table = sim.launch.env.get("INSTANCES_TABLE")
        if table:
            self._writer.put(
                table,
                {
                    "instance_arn": instance_arn(
                        sim.launch.region, sim.launch.account_id, sim.launch.instance_id
                    ),
                    "instance_id": sim.launch.instance_id,
                    "app": sim.app,
                    "release": sim.version,
                    "rollout": sim.launch.env.get("FRESHFLEET_ROLLOUT", ""),
                    "phase": phase,
                    "status": status,
                    "detail": detail,
                    "updated_at": _iso(now),
                    "started_at": _iso(sim.started_at),
                },
            )

    def _later(self, sim: SimulatedInstance, delay: float, fn: Any, *args: Any) -> None:
        sim.timers = [
            h for h in sim.timers if not h.cancelled() and h.when() > self.host.loop.time()
        ]
        sim.timers.append(self.host.loop.call_later(delay, fn, *args))

    def _forget(self, instance_id: str) -> None:
        # The record stays: EC2 still shows a terminated instance's console output.
        sim = self._instances.get(instance_id)
        if sim is not None:
            sim.app_up = False
            sim.ended = True
            self._halt(sim)
