"""Helpers for localaws's contract tests: instances launched as freshfleet launches them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from localaws_helpers import forward_to, user_data_for


@pytest.fixture
def launch(aws_client: Callable[..., Any]) -> Callable[..., list[str]]:
    """`launch("v2", simulate={...}, count=1, url=None)`: run instances with freshfleet's
    user data (plain RunInstances) and return their ids."""

    def run(
        version: str = "v1",
        simulate: dict[str, object] | None = None,
        count: int = 1,
        url: str | None = None,
    ) -> list[str]:
        ec2 = aws_client("ec2", url)
        reservation = ec2.run_instances(
            ImageId="ami-03cf127a",
            MinCount=count,
            MaxCount=count,
            InstanceType="t3.micro",
            UserData=user_data_for(version, simulate),
        )
        return [i["InstanceId"] for i in reservation["Instances"]]

    return run


@pytest.fixture
def target_group(aws_client: Callable[..., Any]) -> Callable[..., str]:
    """`target_group(url=None, forwarded=True, **health)`: a new HTTP target group on 8080
    checking /health every 5 s, healthy after 2 passes, unhealthy after 2 failures (or
    `health`, CreateTargetGroup's own arguments). `forwarded`: a load balancer of its own
    forwards to it, since ELB checks only the groups a listener uses (Target.NotInUse)."""

    def create(url: str | None = None, forwarded: bool = True, **health: Any) -> str:
        ec2, elb = aws_client("ec2", url), aws_client("elbv2", url)
        vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
        settings = {
            "HealthCheckIntervalSeconds": 5,
            "HealthyThresholdCount": 2,
            "UnhealthyThresholdCount": 2,
            **health,
        }
        arn = str(
            elb.create_target_group(
                Name=f"contract-{uuid.uuid4().hex[:16]}",
                Protocol="HTTP",
                Port=8080,
                VpcId=vpc["VpcId"],
                HealthCheckPath="/health",
                **settings,
            )["TargetGroups"][0]["TargetGroupArn"]
        )
        if forwarded:
            forward_to(elb, ec2, arn)
        return arn

    return create
