"""The demo seed (ARCHITECTURE §7), made through the AWS API as any client would.

`demo-web` on an ALB in two availability zones with a weighted listener, its launch template
(IMDSv2 required), one server group of 3 instances on `v1` spread over both zones, the ledger
tables, the releases `v1`, `v2` (good) and `v3` (never healthy) served by the local release
server, and the initial rollout's record.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from localaws.demo.releases import DEMO_APP, ReleaseServer
from localaws.demo.seed_calls import (
    create_app_site,
    create_serving_group,
    default_network,
    demo_grace_seconds,
)
from rollout.aws.eventual import after_create, instance_states
from rollout.aws.gateway import Gateway
from rollout.config import Config
from rollout.deploy.health_settings import agent_health_seconds
from rollout.deploy.launch import METADATA_OPTIONS
from rollout.fleet.traffic import remember_traffic_point
from rollout.ledger.codec import to_item
from rollout.ledger.releases import release_item
from rollout.ledger.rollouts import utc_now
from rollout.ledger.tables import setup_tables
from rollout.model import Release
from rollout.naming import launch_template_name, new_rollout_id
from rollout.userdata import UserDataContext, encode_simulate, render_user_data

DEMO_CAPACITY = 3
DEMO_ZONES = 2  # availability zones of the demo's load balancer and server groups
DEMO_PORT = 8080
DEMO_HEALTH_PATH = "/health"
# The demo's target group drains for 30 s of AWS time (AWS's default is 300 s).
DEMO_DEREGISTRATION_DELAY_SECONDS = 30
DEMO_IMAGE_ID = "ami-03cf127a"  # one of moto's stock images; localaws ignores the image
DEMO_RELEASES: dict[str, dict[str, Any]] = {
    "v1": {"notes": "first release", "simulate": None},
    "v2": {"notes": "second release", "simulate": None},
    "v3": {"notes": "never healthy (demo of a failed rollout)", "simulate": {"never_healthy": 1}},
    "v4": {
        "notes": "healthy, but 1 in 5 requests fails (the judge)",
        "simulate": {"error_share": 0.2},
    },
    "v5": {"notes": "healthy, but ten times slower (the judge)", "simulate": {"slow_factor": 10}},
}


async def seed_demo(
    gw: Gateway,
    config: Config,
    releases: ReleaseServer,
    region: str,
    within: float = 60.0,
    boot_mode: str = "simulated",
) -> list[str]:
    """Create the demo and wait until its instances are launched; returns their ids. Its
    group's grace period covers a boot of `boot_mode` (seed_calls.demo_grace_seconds)."""
    await setup_tables(gw, config.tables)
    vpc, subnets = await default_network(gw)
    # One subnet in each of the first DEMO_ZONES zones: the ALB enables them all and the ASG
    # spreads its instances over them, as AWS balances a group across its zones.
    subnet_ids = subnets[:DEMO_ZONES]
    sg = (
        await gw.call(
            "ec2",
            "create_security_group",
            GroupName=f"freshfleet-{DEMO_APP}",
            Description=f"{DEMO_APP}: HTTP from the load balancer",
            VpcId=vpc,
        )
    )["GroupId"]
    await after_create(
        gw,
        "ec2",
        "authorize_security_group_ingress",
        GroupId=sg,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 80,
                "ToPort": 80,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            },
            {  # the ALB shares the group: the app port is open to the ALB alone, as on AWS
                "IpProtocol": "tcp",
                "FromPort": DEMO_PORT,
                "ToPort": DEMO_PORT,
                "UserIdGroupPairs": [{"GroupId": sg}],
            },
        ],
    )
    site = await create_app_site(gw, DEMO_APP, vpc, subnet_ids, SecurityGroups=[sg])

    # Releases: records with real sha256s of tarballs on the local release server.
    records: dict[str, Release] = {}
    for version, extra in DEMO_RELEASES.items():
        tarball = releases.tarball(version)
        release = Release(
            app=DEMO_APP,
            version=version,
            url=releases.url_of(DEMO_APP, version),
            sha256=tarball.sha256,
            port=DEMO_PORT,
            health_path=DEMO_HEALTH_PATH,
            notes=str(extra["notes"]),
            created_by="localaws-seed",
            simulate=extra["simulate"],
        )
        records[version] = release
        await gw.call(
            "dynamodb",
            "put_item",
            TableName=config.tables.releases,
            Item=to_item(release_item(release)),
        )

    # The app's launch template, and the first server group's version of it.
    template = launch_template_name(DEMO_APP)
    base: dict[str, Any] = {
        "ImageId": DEMO_IMAGE_ID,
        "InstanceType": "t3.micro",
        "SecurityGroupIds": [sg],
        "MetadataOptions": dict(METADATA_OPTIONS),
    }
    await gw.call(
        "ec2",
        "create_launch_template",
        LaunchTemplateName=template,
        VersionDescription="base",
        LaunchTemplateData=base,
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": list(site.tags)}],
    )
    rollout_id = new_rollout_id()
    v1 = records["v1"]
    user_data = render_user_data(
        v1,
        UserDataContext(
            rollout_id=rollout_id,
            region=region,
            instances_table=config.tables.instances,
            simulate=encode_simulate(v1.simulate),
            health_timeout_seconds=agent_health_seconds(
                v1.health_timeout_seconds, config.rollout.gate_deadline_seconds
            ),
        ),
    )
    version = (
        await gw.call(
            "ec2",
            "create_launch_template_version",
            LaunchTemplateName=template,
            SourceVersion="1",
            VersionDescription=f"{DEMO_APP} v1 rollout {rollout_id}",
            LaunchTemplateData={
                **base,
                "UserData": base64.b64encode(user_data.encode()).decode(),
            },
        )
    )["LaunchTemplateVersion"]["VersionNumber"]

    # The server group: target group, then listener forwarding to it, then the ASG.
    started = utc_now()
    name, _, listener = await create_serving_group(
        gw,
        v1,
        site,
        rollout_id=rollout_id,
        template=template,
        template_version=str(version),
        capacity=DEMO_CAPACITY,
        grace_period=demo_grace_seconds(config, boot_mode),
        target_group_attributes=[
            {
                "Key": "deregistration_delay.timeout_seconds",
                "Value": str(DEMO_DEREGISTRATION_DELAY_SECONDS),
            }
        ],
        HealthCheckProtocol="HTTP",
        HealthCheckPort=str(DEMO_PORT),
        HealthCheckTimeoutSeconds=2,
        UnhealthyThresholdCount=2,
        Matcher={"HttpCode": "200"},
    )
    await remember_traffic_point(gw, DEMO_APP, listener, "")
    instance_ids = await wait_launched(gw, name, DEMO_CAPACITY, within)
    await gw.call(
        "dynamodb",
        "put_item",
        TableName=config.tables.rollouts,
        Item=to_item(
            {
                "app": DEMO_APP,
                "rollout_id": rollout_id,
                "from_release": "",
                "to_release": "v1",
                "strategy": "blue-green",
                "state": "succeeded",
                "owner": "localaws-seed",
                "started_at": started,
                "finished_at": utc_now(),
                "steps": [],
            }
        ),
    )
    return instance_ids


async def wait_launched(gw: Gateway, asg: str, count: int, within: float) -> list[str]:
    """Wait until `asg` has `count` instances and EC2 shows them all `running`."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        groups = (
            await gw.call(
                "autoscaling", "describe_auto_scaling_groups", AutoScalingGroupNames=[asg]
            )
        )["AutoScalingGroups"]
        ids = [i["InstanceId"] for i in groups[0]["Instances"]] if groups else []
        if len(ids) >= count:
            # Ids EC2 does not know yet are left out: they are not running for us either.
            states = await instance_states(gw, ids)
            if len(states) == len(ids) and all(s == "running" for s in states.values()):
                return ids
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"the demo's {count} instances did not launch in {within:.0f} s")
        await asyncio.sleep(0.1)
