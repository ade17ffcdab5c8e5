"""Rollout tests run on a fresh cloud per test: the demo fleet, fast timers.

Until the shared `localaws` fixture exists, this starts moto's ThreadedMotoServer in-process
with the one patch a launch-template version needs (moto 5.2.5 stores its UserData as str),
and seeds the demo app. Stock moto makes every target healthy at once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.core.types import Base64EncodedString
from moto.ec2.models.launch_templates import LaunchTemplate
from moto.core.responses import ActionResult
from moto.ec2.models import EC2Backend
from moto.ec2.responses.launch_templates import LaunchTemplates
from moto.server import ThreadedMotoServer

from rollout.backend import Backend
from rollout.config import Config, load_config
from rollout.gateway import Gateway
from rollout.ledger.tables import setup_tables
from rollout.model import Release
from rollout.naming import asg_tag_list, elb_tag_list, group_tags, server_group_name
from rollout.userdata import UserDataContext, render_user_data

APP = "demo-web"
SEED_ROLLOUT = "20260101-000000-0001"


def clients(url: str) -> dict[str, Any]:
    kw = dict(
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="freshfleet",
        aws_secret_access_key="freshfleet",
    )
    return {s: boto3.client(s, **kw) for s in ("ec2", "elbv2", "autoscaling", "dynamodb")}


def release(version: str, simulate: dict[str, object] | None = None) -> Release:
    return Release(
        app=APP,
        version=version,
        url=f"http://127.0.0.1:9/releases/{APP}-{version}.tar.gz",
        sha256=hashlib.sha256(version.encode()).hexdigest(),
        port=8080,
        health_path="/health",
        simulate=simulate,
    )


def put_release(c: dict[str, Any], r: Release, table: str = "freshfleet-releases") -> None:
    item: dict[str, Any] = {
        "app": {"S": r.app},
        "version": {"S": r.version},
        "url": {"S": r.url},
        "sha256": {"S": r.sha256},
        "port": {"N": str(r.port)},
        "health_path": {"S": r.health_path},
        "created_at": {"S": "2026-01-01T00:00:00Z"},
        "created_by": {"S": "seed"},
    }
    if r.simulate:
        item["simulate"] = {"M": {k: {"S": str(v)} for k, v in r.simulate.items()}}
    c["dynamodb"].put_item(TableName=table, Item=item)


def seed_demo(url: str) -> None:
    """Load balancer, listener, launch template, the v1 group of 3, and the releases."""
    c = clients(url)
    ec2, elb, asg = c["ec2"], c["elbv2"], c["autoscaling"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    tags = elb_tag_list({"freshfleet:app": APP})
    lb = elb.create_load_balancer(Name=APP, Subnets=subnets, Tags=tags)["LoadBalancers"][0]
    name = server_group_name(APP, SEED_ROLLOUT)
    tg = elb.create_target_group(
        Name=name,
        Protocol="HTTP",
        Port=8080,
        VpcId=lb["VpcId"],
        HealthCheckPath="/health",
        HealthCheckIntervalSeconds=10,
        Tags=elb_tag_list(group_tags(APP, "v1", SEED_ROLLOUT)),
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {
                "Type": "forward",
                "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": tg, "Weight": 100}]},
            }
        ],
        Tags=tags,
    )
    ec2.create_launch_template(
        LaunchTemplateName=f"freshfleet-{APP}",
        LaunchTemplateData={
            "ImageId": "ami-12c6146b",
            "InstanceType": "t3.micro",
            "MetadataOptions": {"HttpTokens": "required"},
        },
    )
    v1 = release("v1")
    ud = render_user_data(v1, UserDataContext(rollout_id=SEED_ROLLOUT, region="us-east-1"))
    ver = ec2.create_launch_template_version(
        LaunchTemplateName=f"freshfleet-{APP}",
        SourceVersion="1",
        LaunchTemplateData={"UserData": base64.b64encode(ud.encode()).decode()},
    )["LaunchTemplateVersion"]["VersionNumber"]
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": f"freshfleet-{APP}", "Version": str(ver)},
        MinSize=3,
        MaxSize=6,
        DesiredCapacity=3,
        TargetGroupARNs=[tg],
        VPCZoneIdentifier=",".join(subnets),
        HealthCheckType="ELB",
        HealthCheckGracePeriod=30,
        Tags=asg_tag_list(APP, "v1", SEED_ROLLOUT, name),
    )
    asg.put_scaling_policy(
        AutoScalingGroupName=name,
        PolicyName="cpu-50",
        PolicyType="TargetTrackingScaling",
        TargetTrackingConfiguration={
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageCPUUtilization"},
            "TargetValue": 50.0,
        },
    )
    for r in (release("v1"), release("v2"), release("v3", {"never_healthy": 1})):
        put_release(c, r)


# Fast timers for every process of a test (the CLI reads them from the environment).
FAST_ENV = {
    "FRESHFLEET_ROLLOUT__BAKE_SECONDS": "2",
    "FRESHFLEET_ROLLOUT__GATE_DEADLINE_SECONDS": "8",
    "FRESHFLEET_ROLLOUT__CANARY_WATCH_SECONDS": "1",
    "FRESHFLEET_ROLLOUT__POLL_SECONDS": "0.2",
    "FRESHFLEET_ROLLOUT__LOCK_LEASE_SECONDS": "60",
    "FRESHFLEET_ROLLOUT__LOCK_HEARTBEAT_SECONDS": "20",
}


def _user_data_as_base64(original: Any) -> Any:
    def create_version(self: Any, data: dict[str, Any], description: str) -> Any:
        if isinstance(data.get("UserData"), str):
            data = {**data, "UserData": Base64EncodedString(data["UserData"])}
        return original(self, data, description)

    return create_version


def _delete_template_versions(self: Any) -> Any:
    """DeleteLaunchTemplateVersions, which moto 5.2.5 lacks: versions become tombstones."""
    name = self._get_param("LaunchTemplateName")
    template = self.ec2_backend.get_launch_template_by_name(name)
    gone = template.__dict__.setdefault("freshfleet_deleted", set())
    done = []
    for v in self._get_param("Versions", []):
        gone.add(int(v))
        done.append(
            {"LaunchTemplateId": template.id, "LaunchTemplateName": name, "VersionNumber": int(v)}
        )
    return ActionResult(
        {
            "SuccessfullyDeletedLaunchTemplateVersions": done,
            "UnsuccessfullyDeletedLaunchTemplateVersions": [],
        }
    )


def _without_tombstones(original: Any) -> Any:
    def describe(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = original(self, *args, **kwargs)
        return [
            (t, v) for t, v in found if v.number not in t.__dict__.get("freshfleet_deleted", ())
        ]

    return describe


@dataclass
class Fleet:
    """The cloud of one test: its endpoint and the configuration every process uses."""

    url: str
    config: Config
    env: dict[str, str]

    @property
    def backend(self) -> Backend:
        return Backend(endpoint_url=self.url, region="us-east-1", local=True)

    def gateway(self) -> Gateway:
        return Gateway(self.backend)

    def aws(self) -> dict[str, Any]:
        return clients(self.url)


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    monkeypatch.setattr(
        LaunchTemplate, "create_version", _user_data_as_base64(LaunchTemplate.create_version)
    )
    monkeypatch.setattr(
        LaunchTemplates, "delete_launch_template_versions", _delete_template_versions, raising=False
    )
    monkeypatch.setattr(
        EC2Backend,
        "describe_launch_template_versions",
        _without_tombstones(EC2Backend.describe_launch_template_versions),
    )
    server = ThreadedMotoServer(port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    endpoint_file = tmp_path / "localaws.json"
    endpoint_file.write_text(
        json.dumps({"url": url, "pid": os.getpid(), "region": "us-east-1", "boot_mode": "moto"})
    )
    env = {**FAST_ENV, "FRESHFLEET_ENDPOINT_FILE": str(endpoint_file)}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(tmp_path)  # no freshfleet.toml of the developer's
    config = load_config()

    async def tables() -> None:
        async with Gateway(Backend(endpoint_url=url, region="us-east-1", local=True)) as gw:
            await setup_tables(gw, config.tables)

    asyncio.run(tables())
    seed_demo(url)
    try:
        yield Fleet(url=url, config=config, env=env)
    finally:
        server.stop()
