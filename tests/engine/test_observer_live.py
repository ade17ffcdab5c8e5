"""The observer on a localaws whose instances really boot (simulated): a launch seen
tick by tick, every diff naming only what changed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from localaws.process import LocalAws
from localaws.testing import start_test_localaws
from rollout.aws.backend import Backend
from rollout.aws.gateway import Gateway
from rollout.config import Tables
from rollout.fleet.observer import FleetObserver
from rollout.ledger.tables import setup_tables
from rollout.model import HealthState, InstanceState, Release
from rollout.userdata import UserDataContext, render_user_data

from .moto_fleet import clients, group_instances, seed_app

RID = "20261127-100000-cccc"


@pytest.fixture
def slow_boot_localaws(tmp_path: Path) -> Iterator[LocalAws]:
    """An empty localaws whose boot phases take 1 s each, so a boot spans several ticks."""
    slow = {"FRESHFLEET_LOCALAWS__PHASE_SECONDS": "100"}  # AWS seconds: 1 s each here
    with start_test_localaws(tmp_path / "localaws", seed=False, env=slow) as handle:
        yield handle


async def test_a_launch_is_seen_from_pending_to_healthy_in_exact_diffs(
    slow_boot_localaws: LocalAws,
) -> None:
    url = slow_boot_localaws.url
    backend = Backend(endpoint_url=url, region="us-east-1", local=True)
    async with Gateway(backend) as gw:
        await setup_tables(gw, Tables())
        release = Release("live", "v1", "http://127.0.0.1:1/live-v1.tgz", "ab" * 32)
        user_data = render_user_data(release, UserDataContext(RID, "us-east-1"))
        seeded = seed_app(
            url, "live", release="v1", rollout_id=RID, capacity=1, user_data=user_data
        )
        group, _ = seeded.groups[RID]
        observer = FleetObserver(gw, Tables(), interval=0.1)
        snapshot, _ = await observer.tick()
        (first,) = group_instances(url, group)

        await _until_healthy(observer, first)

        # Launch one more: the diffs name it, and only it, until it is healthy.
        clients(url)["autoscaling"].set_desired_capacity(
            AutoScalingGroupName=group, DesiredCapacity=2
        )
        (launched,) = set(group_instances(url, group)) - {first}
        states: list[tuple[str, str | None, str | None]] = []
        seen_added = False
        async with asyncio.timeout(60):
            async for snapshot, diff in observer.run():
                assert set(diff.removed) == set()
                assert set(diff.added) <= {launched}
                assert set(diff.changed) <= {launched}, "the healthy instance never changes"
                seen_added = seen_added or launched in diff.added
                inst = snapshot.instances.get(launched)
                if inst is not None and (launched in diff.added or launched in diff.changed):
                    states.append(
                        (
                            inst.state.value,
                            inst.health.state.value if inst.health else None,
                            f"{inst.boot.phase.value} {inst.boot.status.value}"
                            if inst.boot
                            else None,
                        )
                    )
                if inst and inst.health and inst.health.state is HealthState.HEALTHY:
                    break
        assert seen_added
        assert states[0][0] in ("pending", "running")
        assert states[-1][:2] == ("running", "healthy")
        assert len(states) > 1, f"the boot was seen as it went: {states}"

        # Terminate it: removed, and nothing else.
        clients(url)["autoscaling"].terminate_instance_in_auto_scaling_group(
            InstanceId=launched, ShouldDecrementDesiredCapacity=True
        )
        async with asyncio.timeout(30):
            async for _snapshot, diff in observer.run():
                assert set(diff.added) == set()
                assert set(diff.changed) | set(diff.removed) <= {launched}
                if launched in diff.removed:
                    break
        snapshot = observer.previous
        assert snapshot is not None and launched not in snapshot.instances
        assert snapshot.instances[first].state is InstanceState.RUNNING


async def _until_healthy(observer: FleetObserver, instance_id: str) -> None:
    async with asyncio.timeout(60):
        async for snapshot, _ in observer.run():
            inst = snapshot.instances.get(instance_id)
            if inst and inst.health and inst.health.healthy:
                return
