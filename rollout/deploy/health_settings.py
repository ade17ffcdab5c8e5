"""How the new group's instances are judged while they boot: the ASG's grace period and the
target group's health check (docs/ARCHITECTURE.md §3).

An ELB-checked ASG replaces an instance the load balancer calls unhealthy once the grace
period is over, so the grace covers the release's expected boot (the longest recorded boot
of the release or the app, else the whole gate deadline) plus the checks that make a target
healthy. Boots and deadlines are wall seconds; the grace is the backend's seconds (a
localaws runs AWS's times `time_scale` times as long, rollout.aws.backend.time_scale), so a
wall duration becomes `wall / time_scale` of them. A first target group gets explicit
timings rather than AWS's defaults (30 s × 5 checks, 300 s deregistration delay); later
ones copy the serving group's.

The boot agent's own health deadline (FRESHFLEET_HEALTH_TIMEOUT in the user data) is the
release's `health_timeout_seconds` when it has one, else half the gate deadline: the other
half is left for the instance's pending time, fetch, build and run before the health phase
and for the gate's next poll, so a release that never answers is reported `health fail`
with its last answer and the gate fails on that report, long before its own deadline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rollout.aws.gateway import Gateway
from rollout.config import Config
from rollout.ledger.history import BootDurations, app_history, boot_durations
from rollout.ledger.instances import app_boots

# A first target group's health check: healthy 20 s after the app answers, unhealthy after
# 30 s of failures, drained in 30 s (AWS's defaults: 150 s, 60 s and 300 s).
FIRST_INTERVAL_SECONDS = 10
FIRST_TIMEOUT_SECONDS = 5
FIRST_HEALTHY_THRESHOLD = 2
FIRST_UNHEALTHY_THRESHOLD = 3
FIRST_MATCHER = "200"
FIRST_DEREGISTRATION_DELAY_SECONDS = 30
# A recorded boot is a sample, not a bound: the grace allows half as long again.
BOOT_MARGIN = 1.5
MIN_GRACE_SECONDS = 60  # never less than the ASG default this replaces
# The share of the gate deadline the agent's health phase may wait for a 2xx.
AGENT_HEALTH_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """A target group's health check and deregistration delay."""

    interval: int = FIRST_INTERVAL_SECONDS
    timeout: int = FIRST_TIMEOUT_SECONDS
    healthy_threshold: int = FIRST_HEALTHY_THRESHOLD
    unhealthy_threshold: int = FIRST_UNHEALTHY_THRESHOLD
    matcher: str = FIRST_MATCHER
    deregistration_delay: int = FIRST_DEREGISTRATION_DELAY_SECONDS

    @property
    def seconds_to_healthy(self) -> int:
        return self.interval * self.healthy_threshold

    def params(self) -> dict[str, Any]:
        """The CreateTargetGroup parameters of this check."""
        return {
            "HealthCheckEnabled": True,
            "HealthCheckIntervalSeconds": self.interval,
            "HealthCheckTimeoutSeconds": self.timeout,
            "HealthyThresholdCount": self.healthy_threshold,
            "UnhealthyThresholdCount": self.unhealthy_threshold,
            "Matcher": {"HttpCode": self.matcher},
        }

    def describe(self) -> str:
        return (
            f"every {self.interval} s, timeout {self.timeout} s, healthy after "
            f"{self.healthy_threshold}, unhealthy after {self.unhealthy_threshold}, "
            f"codes {self.matcher}"
        )

    @classmethod
    def of(cls, target_group: dict[str, Any], attributes: dict[str, str]) -> HealthCheck:
        """The check of an existing target group (AWS's defaults where a value is absent)."""
        matcher = target_group.get("Matcher") or {}
        return cls(
            interval=int(target_group.get("HealthCheckIntervalSeconds", 30)),
            timeout=int(target_group.get("HealthCheckTimeoutSeconds", 5)),
            healthy_threshold=int(target_group.get("HealthyThresholdCount", 5)),
            unhealthy_threshold=int(target_group.get("UnhealthyThresholdCount", 2)),
            matcher=str(matcher.get("HttpCode") or matcher.get("GrpcCode") or "200"),
            deregistration_delay=int(attributes.get("deregistration_delay.timeout_seconds", 300)),
        )


def grace_seconds(
    longest_boot: float | None,
    gate_deadline: float,
    check: HealthCheck,
    floor: int = 0,
    *,
    time_scale: float = 1.0,
) -> int:
    """A grace period, in the backend's seconds, covering the expected boot and the checks
    to healthy (at least `floor`, the serving group's own); without a recorded boot, the gate
    deadline. The boot and the deadline are wall seconds (the engine's clock): on a backend
    whose times run `time_scale` times as long (localaws; AWS is 1.0) they are
    `wall / time_scale` of its seconds, so the grace lasts as long as the boot does, even a
    real boot the backend's clock does not scale; the checks are the backend's seconds."""
    boot = gate_deadline if longest_boot is None else BOOT_MARGIN * longest_boot
    scale = time_scale if time_scale > 0 else 1.0
    return max(floor, MIN_GRACE_SECONDS, math.ceil(boot / scale) + check.seconds_to_healthy)


def agent_health_seconds(release_timeout: float | None, gate_deadline: float) -> float:
    """The boot agent's health deadline: the release's own when it has one, else
    AGENT_HEALTH_SHARE of the gate deadline (always below it)."""
    if release_timeout is not None and release_timeout > 0:
        return float(release_timeout)
    return max(0.1, round(gate_deadline * AGENT_HEALTH_SHARE, 1))


async def recorded_boots(gw: Gateway, config: Config, app: str) -> BootDurations:
    """The app's boot durations: past rollouts' launch-to-gate spans and the agents' reports."""
    past = await app_history(gw, config.tables, app, limit=20)
    return boot_durations(past, await app_boots(gw, config.tables, app))
