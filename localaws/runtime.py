"""What an instance runs on: the interface every instance runtime implements (ARCHITECTURE §7).

Two runtimes exist: `simulated` (localaws/simulated.py: phases on timers, one shared HTTP
server) and `real` (localaws/runtime_real.py: the real boot agent and Docker). localaws
calls a runtime only from its event loop thread; `console_output` alone may be called
from moto's request threads, so it must be thread-safe.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

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


class InstanceRuntime(abc.ABC):
    """Boots, ends and reports on instances. One per localaws process."""

    name: str = ""  # "simulated" or "real": the boot mode

    def __init__(self, host: RuntimeHost) -> None:
        self.host = host

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Acquire shared resources (servers, clients) before the first instance starts."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """End every instance and release shared resources; localaws is exiting."""

    @abc.abstractmethod
    def start(self, launch: InstanceLaunch) -> None:
        """Begin booting the instance; call `host.mark_running(id)` once it has started."""

    @abc.abstractmethod
    def stop(self, instance_id: str, linger: float = 0.0) -> None:
        """End the instance (stopped or terminated); its app may answer `linger` seconds
        more, so requests in flight while its targets drain finish."""

    @abc.abstractmethod
    def console_output(self, instance_id: str) -> str | None:
        """The instance's console text so far (None when unknown). Thread-safe."""

    @abc.abstractmethod
    def address(self, instance_id: str) -> tuple[str, int] | None:
        """(host, port) where the instance's app answers HTTP, or None when not up yet.

        Health checks and proxied traffic go there with the TARGET_HEADER set.
        """


@dataclass(frozen=True, slots=True)
class BootChoice:
    """The runtime `--boot` resolved to, and why (shown on the boot-mode line)."""

    mode: str  # "real" | "simulated"
    reason: str


BOOT_MODES = ("auto", "real", "simulated")


def choose_boot(boot: str) -> BootChoice:
    """Resolve `--boot auto|real|simulated` (ARCHITECTURE §7).

    `auto` picks real only when a Docker engine answers AND `localaws.runtime_real`
    exists and says a base image can be had; otherwise simulated, saying why.
    `real` raises RuntimeError with the reason when real cannot run.
    """
    if boot not in BOOT_MODES:
        raise ValueError(f"unknown --boot {boot!r}: choose one of {', '.join(BOOT_MODES)}")
    if boot == "simulated":
        return BootChoice("simulated", "--boot simulated")
    ok, why = real_available()
    if ok:
        return BootChoice("real", why)
    if boot == "real":
        raise RuntimeError(f"--boot real is not possible: {why}")
    return BootChoice("simulated", why)


def real_available() -> tuple[bool, str]:
    """(True, why) when the real runtime can run here; (False, why not) otherwise."""
    try:
        from localaws import runtime_real  # type: ignore[attr-defined, unused-ignore]
    except ImportError:
        return False, "the real runtime is not installed"
    except Exception as exc:  # a broken module must not stop the sandbox
        return False, f"the real runtime failed to load: {exc}"
    if not _docker_answers():
        return False, "no Docker engine answers"
    check = getattr(runtime_real, "base_image_available", None)
    if check is None:
        return False, "the real runtime cannot say whether a base image can be had"
    try:
        result = check()
    except Exception as exc:
        return False, f"no release base image: {exc}"
    ok, why = result if isinstance(result, tuple) else (bool(result), "")
    return (
        (True, why or "Docker engine answers and a base image can be had")
        if ok
        else (
            False,
            why or "no release base image can be had",
        )
    )


def _docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def make_runtime(mode: str, host: RuntimeHost) -> InstanceRuntime:
    """The runtime for a resolved boot mode."""
    if mode == "real":
        from localaws import runtime_real  # type: ignore[attr-defined, unused-ignore]

        runtime: InstanceRuntime = runtime_real.RealRuntime(host)
        return runtime
    from localaws.simulated import SimulatedRuntime

    return SimulatedRuntime(host)
