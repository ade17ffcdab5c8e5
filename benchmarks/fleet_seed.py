"""A big fleet in a localaws: N instances in M apps, one serving server group each.

Made through the AWS API as any client would, but with one call per resource, not per
instance: each server group is an ASG whose desired capacity launches its instances in
one moto call, registered in its own target group behind the app's own listener.
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass

from localaws.demo.seed_calls import create_app_site, create_serving_group, default_network
from rollout.aws.gateway import Gateway
from rollout.config import Tables
from rollout.ledger.tables import setup_tables
from rollout.model import Release
from rollout.naming import launch_template_name, new_rollout_id
from rollout.userdata import UserDataContext, render_user_data

IMAGE_ID = "ami-03cf127a"  # one of moto's stock images; localaws ignores the image
PORT = 8080
FLEET_GRACE_SECONDS = 86400  # AWS seconds: 14 minutes even at the tests' 0.01


@dataclass(frozen=True, slots=True)
class SeededFleet:
    """What was made: app names, their target group ARNs, the instance count."""

    apps: tuple[str, ...]
    target_groups: tuple[str, ...]
    instances: int


async def seed_fleet(
    gw: Gateway, tables: Tables, *, instances: int, groups: int, prefix: str = "bench"
) -> SeededFleet:
    """`groups` apps named `<prefix>-NN`, each serving v1 from one server group; the
    `instances` are spread evenly over them. Returns once every ASG has its instances."""
    await setup_tables(gw, tables)
    vpc, subnet_ids = await default_network(gw)
    sizes = [instances // groups + (1 if n < instances % groups else 0) for n in range(groups)]
    # One app at a time: moto's models are not safe for concurrent ASG launches. Each app's
    # ALB and ASG share two subnets (localaws balances a group over its zones, and a target
    # in a zone its ALB does not enable is unused): rotate the subnets so none runs out of
    # addresses (a default /20 subnet holds 4,091 instances).
    made = [
        await _seed_app(gw, tables, f"{prefix}-{n:02d}", size, vpc, _rotated(subnet_ids, n))
        for n, size in enumerate(sizes)
    ]
    return SeededFleet(
        apps=tuple(a for a, _ in made), target_groups=tuple(t for _, t in made), instances=instances
    )


def _rotated(items: list[str], n: int) -> list[str]:
    k = n % len(items)
    return items[k:] + items[:k]


async def _seed_app(
    gw: Gateway, tables: Tables, app: str, capacity: int, vpc: str, subnets: list[str]
) -> tuple[str, str]:
    site = await create_app_site(gw, app, vpc, subnets[:2])
    rollout_id = new_rollout_id()
    release = Release(
        app=app,
        version="v1",
        url=f"https://releases.example.com/{app}/v1.tar.gz",
        sha256="0" * 64,
        port=PORT,
    )
    user_data = render_user_data(
        release,
        UserDataContext(
            rollout_id=rollout_id, region="us-east-1", instances_table=tables.instances
        ),
    )
    await gw.call(
        "ec2",
        "create_launch_template",
        LaunchTemplateName=launch_template_name(app),
        LaunchTemplateData={
            "ImageId": IMAGE_ID,
            "InstanceType": "t3.micro",
            "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
            "UserData": base64.b64encode(user_data.encode()).decode(),
        },
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": list(site.tags)}],
    )
    _, tg, _ = await create_serving_group(
        gw,
        release,
        site,
        rollout_id=rollout_id,
        template=launch_template_name(app),
        template_version="1",
        capacity=capacity,
        # Its ASG replaces an instance still unhealthy after the grace: thousands booting at
        # once on one machine take minutes, and the benchmark measures no replacements.
        grace_period=FLEET_GRACE_SECONDS,
    )
    return app, tg


async def wait_healthy(gw: Gateway, fleet: SeededFleet, within: float) -> float:
    """Wait until every target of the fleet is healthy; returns the seconds it took."""
    start = time.monotonic()
    while True:
        outs = await asyncio.gather(
            *(
                gw.call("elbv2", "describe_target_health", TargetGroupArn=tg)
                for tg in fleet.target_groups
            )
        )
        healthy = sum(
            1
            for out in outs
            for d in out.get("TargetHealthDescriptions", [])
            if d["TargetHealth"]["State"] == "healthy"
        )
        if healthy >= fleet.instances:
            return time.monotonic() - start
        if time.monotonic() - start > within:
            raise TimeoutError(
                f"{healthy} of {fleet.instances} targets healthy after {within:.0f} s"
            )
        await asyncio.sleep(1.0)
