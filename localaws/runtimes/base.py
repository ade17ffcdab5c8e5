"""What an instance runs on: the base every instance runtime builds on (ARCHITECTURE §7).

Two runtimes exist: `simulated` (localaws/runtimes/simulated.py: phases on timers, one shared HTTP
server) and `real` (localaws/runtimes/real.py: the real boot agent and Docker); which one
runs is chosen in localaws/runtimes/boot_mode.py. The base keeps each instance's record (its
console lines, whether its app answers, whether it has ended) and answers `stop`,
`console_output` and `address` from it the same way for both; a runtime says how its
instances boot, halt and are retired. localaws calls a runtime only from its event loop
thread; `console_output` alone may be called from moto's request threads, so it is
thread-safe.
"""

from __future__ import annotations

import abc
import asyncio
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from rollout.config import LocalAwsTimers

# Every request localaws sends to a target (health checks and proxied traffic) carries
# this header, so one shared server can route per instance; real apps ignore it.
TARGET_HEADER = "X-Localaws-Target"

CONSOLE_LIMIT = 64 * 1024  # GetConsoleOutput returns the last 64 KB, as EC2 does


@dataclass(frozen=True, slots=True)
class InstanceLaunch:
    """One instance to boot: who it is and what its user data asks for."""

    instance_id: str
    user_data: str  # decoded user data ("" when none)
    env: Mapping[str, str]  # the release env file from the user data ({} when not ours)
    region: str
    endpoint_url: str  # localaws's endpoint, for the instance's own AWS calls
    private_ip: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    account_id: str = ""  # the owner's account, for the instance identity document


@dataclass(frozen=True, slots=True)
class RuntimeHost:
    """What localaws gives a runtime: timers, its loop, and the call that makes an
    instance `running` (a runtime decides when its instance has started)."""

    loop: asyncio.AbstractEventLoop
    timers: LocalAwsTimers
    region: str
    endpoint_url: str
    mark_running: Callable[[str], None]  # instance id; called on the loop thread
    workdir: str = ""  # a directory the runtime may use for per-instance files


@dataclass(slots=True)
class RuntimeInstance:
    """What every runtime keeps of one instance; touched on the loop, read by moto's threads."""

    launch: InstanceLaunch
    lines: list[str] = field(default_factory=list)  # its console, line by line
    app_up: bool = False  # its app answers HTTP
    ended: bool = False  # stopped or terminated


InstanceT = TypeVar("InstanceT", bound=RuntimeInstance)


class InstanceRuntime(abc.ABC, Generic[InstanceT]):
    """Boots, ends and reports on instances. One per localaws process."""

    name: str = ""  # "simulated" or "real": the boot mode

    def __init__(self, host: RuntimeHost) -> None:
        self.host = host
        self._instances: dict[str, InstanceT] = {}
        self._lock = threading.Lock()  # guards the records' console lines

    async def open(self) -> None:
        """Acquire shared resources (servers, clients) before the first instance starts."""

    async def close(self) -> None:
        """End every instance and release shared resources; localaws is exiting."""

    @abc.abstractmethod
    def start(self, launch: InstanceLaunch) -> None:
        """Begin booting the instance; call `host.mark_running(id)` once it has started."""

    def stop(self, instance_id: str, linger: float = 0.0) -> None:
        """End the instance (stopped or terminated); its app may answer `linger` seconds
        more, so requests in flight while its targets drain finish. Ending twice is a no-op."""
        inst = self._instances.get(instance_id)
        if inst is None or inst.ended:
            return
        inst.ended = True
        self._halt(inst)
        self._print(inst, "[  OK  ] Reached target System Power Off (localaws: instance ended)")
        self.host.loop.call_later(linger, self._retire, inst)

    def console_output(self, instance_id: str) -> str | None:
        """The instance's console text so far, its last CONSOLE_LIMIT characters (None when
        unknown). Thread-safe; an ended instance's console stays, as EC2 keeps it."""
        with self._lock:
            inst = self._instances.get(instance_id)
            if inst is None:
                return None
            text = "".join(line + "\n" for line in inst.lines)
        return text[-CONSOLE_LIMIT:]

    def address(self, instance_id: str) -> tuple[str, int] | None:
        """(host, port) where the instance's app answers HTTP, or None when not up yet.

        Health checks and proxied traffic go there with the TARGET_HEADER set.
        """
        inst = self._instances.get(instance_id)
        if inst is None or not inst.app_up:
            return None
        return ("127.0.0.1", self._app_port(inst))

    # -- what a runtime says -----------------------------------------------------------

    @abc.abstractmethod
    def _app_port(self, inst: InstanceT) -> int:
        """The loopback port where this instance's app answers once it is up."""

    @abc.abstractmethod
    def _halt(self, inst: InstanceT) -> None:
        """Stop the instance's boot at once (its `ended` is already set)."""

    @abc.abstractmethod
    def _retire(self, inst: InstanceT) -> None:
        """After the linger: the app stops answering and the instance's resources go."""

    # -- helpers for runtimes ----------------------------------------------------------

    def _keep(self, inst: InstanceT, first_line: str) -> None:
        """Record a new instance, its console beginning with `first_line`."""
        with self._lock:
            self._instances[inst.launch.instance_id] = inst
        self._print(inst, first_line)

    def _print(self, inst: InstanceT, line: str) -> None:
        """One console line of the instance (any thread)."""
        with self._lock:
            inst.lines.append(line)
