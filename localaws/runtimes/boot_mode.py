"""Which instance runtime localaws runs: the `--boot` choice and its runtime (ARCHITECTURE §7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from localaws.runtimes.base import InstanceRuntime, RuntimeHost


@dataclass(frozen=True, slots=True)
class BootChoice:
    """The runtime `--boot` resolved to, and why (shown on the boot-mode line)."""

    mode: str  # "real" | "simulated"
    reason: str


BOOT_MODES = ("auto", "real", "simulated")


def choose_boot(boot: str) -> BootChoice:
    """Resolve `--boot auto|real|simulated` (ARCHITECTURE §7).

    `auto` picks real only when a Docker engine answers AND `localaws.runtimes.real`
    says a base image can be had; otherwise simulated, saying why.
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
        from localaws.runtimes import real as runtime_real
    except Exception as exc:  # a broken module must not stop the sandbox
        return False, f"the real runtime failed to load: {exc}"
    if not _docker_answers():
        return False, "no Docker engine answers"
    try:
        ok, why = runtime_real.base_image_available()
    except Exception as exc:
        return False, f"no release base image: {exc}"
    if ok:
        return True, why or "Docker engine answers and a base image can be had"
    return False, why or "no release base image can be had"


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


def make_runtime(mode: str, host: RuntimeHost) -> InstanceRuntime[Any]:
    """The runtime for a resolved boot mode: real for "real", simulated otherwise."""
    if mode == "real":
        from localaws.runtimes.real import RealRuntime

        return RealRuntime(host)
    from localaws.runtimes.simulated import SimulatedRuntime

    return SimulatedRuntime(host)
