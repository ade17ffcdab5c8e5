"""`POST /moto-api/reset` ends every instance and every local listener, and localaws
keeps working afterwards. Patch: MotoAPIBackend.reset."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from localaws_helpers import console_of, health_of, state_of

from localaws.process import LocalAws
from localaws.testing import boto3_client


def test_reset_ends_instances_and_listeners_then_new_instances_boot(
    empty_localaws: LocalAws,
    launch: Callable[..., list[str]],
    target_group: Callable[..., str],
    eventually: Callable[..., Any],
) -> None:
    url = empty_localaws.url
    ec2, elb = boto3_client("ec2", url), boto3_client("elbv2", url)
    tg = target_group(url)
    (instance,) = launch("v1", url=url)
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2]]
    lb = elb.create_load_balancer(Name="before-reset", Subnets=subnets)["LoadBalancers"][0]
    listener = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )["Listeners"][0]
    alb = f"http://127.0.0.1:{listener['Port']}/"
    eventually(lambda: health_of(elb, tg)[instance]["State"] == "healthy", what="healthy")
    assert urllib.request.urlopen(alb, timeout=5).read().startswith(b"demo-web v1 ")

    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).read()

    assert ec2.describe_instances()["Reservations"] == []

    def listener_closed() -> bool:
        try:
            urllib.request.urlopen(alb, timeout=2).read()
        except (urllib.error.URLError, ConnectionError):
            return True
        return False

    eventually(listener_closed, what="the old listener's port closed")

    (after,) = launch("v2", url=url)
    eventually(lambda: state_of(ec2, after) == "running", what="a new instance running")
    eventually(lambda: "health ok" in console_of(ec2, after), what="a new instance booted")
    with pytest.raises(Exception, match="InvalidInstanceID"):
        console_of(ec2, instance)
