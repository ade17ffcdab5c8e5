"""A rollout that would take its load balancer over the account's targets quota is refused
at plan time, with the numbers, and told whether rolling fits: blue-green and canary hold
the old and the new group on one load balancer until retire; rolling adds one batch.

The localaws here plays an account whose targets-per-ALB quota was set to 5 (AWS: 1,000,
adjustable); the demo serves 3 instances of v1, so blue-green needs 6 and rolling 4.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from localaws.process import LocalAws
from localaws.testing import boto3_client, start_test_localaws
from rollout.aws.backend import Backend
from rollout.aws.gateway import Gateway
from rollout.config import load_config
from rollout.deploy import DeployRequest, RolloutInputError, make_plan


@pytest.fixture(scope="module")
def five_target_account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    env = {"FRESHFLEET_LOCALAWS__TARGETS_PER_ALB": "5"}
    with start_test_localaws(tmp_path_factory.mktemp("quota"), env=env) as handle:
        yield handle


async def _plan(localaws: LocalAws, strategy: str) -> object:
    backend = Backend(endpoint_url=localaws.url, region="us-east-1", local=True)
    async with Gateway(backend) as gw:
        return await make_plan(
            gw, load_config(), DeployRequest("demo-web", "v2", strategy=strategy)
        )


@pytest.mark.parametrize("strategy", ["blue-green", "canary"])
async def test_old_plus_new_over_the_quota_is_refused_and_rolling_offered(
    five_target_account: LocalAws, strategy: str
) -> None:
    with pytest.raises(RolloutInputError) as refused:
        await _plan(five_target_account, strategy)
    message = str(refused.value)
    assert f"{strategy} needs 6 targets" in message
    assert "3 of demo-web's serving group, 3 new" in message
    assert "over its quota of 5 (targets-per-application-load-balancer)" in message
    assert "`--strategy rolling` fits (4 at its peak)" in message


async def test_rolling_fits_beside_the_old_group(five_target_account: LocalAws) -> None:
    plan = await _plan(five_target_account, "rolling")
    assert plan.strategy == "rolling"  # type: ignore[attr-defined]


def test_the_cli_refuses_before_creating_anything(five_target_account: LocalAws) -> None:
    assert five_target_account.endpoint_file is not None
    env = {**os.environ, "FRESHFLEET_ENDPOINT_FILE": str(five_target_account.endpoint_file)}
    run = subprocess.run(
        [sys.executable, "-m", "console.main", "deploy", "demo-web", "v2", "-y"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(five_target_account.endpoint_file).parent,
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "over its quota of 5" in run.stdout + run.stderr
    groups = boto3_client("autoscaling", five_target_account.url).describe_auto_scaling_groups()
    assert len(groups["AutoScalingGroups"]) == 1


async def test_other_apps_targets_on_a_shared_load_balancer_count(
    five_target_account: LocalAws,
) -> None:
    """Another app's group of 1 behind a rule of the same listener: rolling needs 5 (fits),
    one more target there and nothing fits."""
    elb = boto3_client("elbv2", five_target_account.url)
    (lb,) = [
        b
        for b in elb.describe_load_balancers()["LoadBalancers"]
        if b["LoadBalancerName"] == "demo-web"
    ]
    (listener,) = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    other = elb.create_target_group(
        Name=f"other-{uuid.uuid4().hex[:8]}", Protocol="HTTP", Port=80, VpcId=lb["VpcId"]
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=other, Targets=[{"Id": "i-0000000000000c001"}])
    rule = elb.create_rule(
        ListenerArn=listener["ListenerArn"],
        Priority=7,
        Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": ["other.example"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": other}],
    )["Rules"][0]["RuleArn"]
    try:
        with pytest.raises(
            RolloutInputError, match="1 of other target groups on its load balancer"
        ):
            await _plan(five_target_account, "blue-green")
        await _plan(five_target_account, "rolling")  # 3 + 1 + 1 = 5
        elb.register_targets(TargetGroupArn=other, Targets=[{"Id": "i-0000000000000c002"}])
        with pytest.raises(RolloutInputError, match="rolling needs 6 targets") as refused:
            await _plan(five_target_account, "rolling")
        assert "ask AWS to raise the quota, or lower --capacity" in str(refused.value)
    finally:
        elb.delete_rule(RuleArn=rule)
