"""The new group's grace period is in the backend's seconds: a boot the engine measured in
wall seconds lasts `wall / time_scale` of a localaws's seconds (AWS: 1.0), so a real boot
that the local clock does not scale is not cut short (docs/ARCHITECTURE.md §2)."""

from __future__ import annotations

from rollout.deploy.health_settings import MIN_GRACE_SECONDS, HealthCheck, grace_seconds


def test_a_wall_clock_boot_becomes_backend_seconds_under_the_time_scale() -> None:
    check = HealthCheck()  # healthy after 2 checks 10 s apart: 20 s of the backend's time
    # On AWS: 1.5 x a 40 s boot, plus the checks.
    assert grace_seconds(40.0, 900.0, check) == 60 + 20
    # On a localaws at 0.1: the same 40 s wall boot is 400 of its seconds.
    assert grace_seconds(40.0, 900.0, check, time_scale=0.1) == 600 + 20
    # No recorded boot: the gate deadline, converted the same way.
    assert grace_seconds(None, 120.0, check, time_scale=0.1) == 1200 + 20
    assert grace_seconds(None, 120.0, check) == 120 + 20


def test_the_grace_never_falls_below_the_floor_or_the_minimum() -> None:
    check = HealthCheck()
    assert grace_seconds(1.0, 900.0, check) == MIN_GRACE_SECONDS
    assert grace_seconds(1.0, 900.0, check, floor=600, time_scale=0.01) == 600
