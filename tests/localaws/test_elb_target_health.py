"""Target health as ELB reports it, through plain boto3, at AWS's timings on the time scale.

Each test names the AWS documentation it follows:
- TargetHealth (states and reason codes):
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html
- Health checks for target groups (interval, thresholds, timeout, defaults):
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html
- CreateTargetGroup (defaults of a group created without health settings):
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html
- Deregistration delay:
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-target-group-attributes.html#deregistration-delay

Patches: FakeTargetGroup.register/.health_for, ELBv2Backend.describe_target_health, and the
prober's reading of listeners and rules (localaws/server/cloud.py `traffic_zones`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from localaws_helpers import console_of, default_subnets, forward_to, health_of, user_data_for

from localaws.process import LocalAws
from localaws.testing import TEST_TIME_SCALE

NOT_IN_USE = "Target.NotInUse"


def _booted(ec2: Any, instance: str) -> bool:
    """The instance's app answers its health path (the agent's `health ok` line)."""
    return " health ok" in console_of(ec2, instance)


def _forward(*groups: tuple[str, int]) -> list[dict[str, Any]]:
    targets = [{"TargetGroupArn": arn, "Weight": weight} for arn, weight in groups]
    return [{"Type": "forward", "ForwardConfig": {"TargetGroups": targets}}]


def test_a_group_no_listener_forwards_to_is_unused_until_one_does_and_again_after(
    localaws: LocalAws,
    launch: Callable[..., list[str]],
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    """TargetHealth: Target.NotInUse, "the target group is not used by any load balancer"."""
    ec2, elb = aws_client("ec2"), aws_client("elbv2")
    tg = target_group(forwarded=False)
    (instance,) = launch("v1")
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    assert health_of(elb, tg)[instance]["Reason"] == NOT_IN_USE
    eventually(lambda: _booted(ec2, instance), what="the app up")
    # The app answers, yet nothing checks it: still unused, never healthy.
    health = health_of(elb, tg)[instance]
    assert (health["State"], health["Reason"]) == ("unused", NOT_IN_USE)

    other = target_group()
    listener = forward_to(elb, ec2, other)
    # Weight 0 counts as forwarded to: ELB checks the group, which gets no traffic.
    elb.modify_listener(ListenerArn=listener, DefaultActions=_forward((other, 1), (tg, 0)))
    eventually(lambda: health_of(elb, tg)[instance]["State"] == "healthy", what="healthy")

    elb.modify_listener(ListenerArn=listener, DefaultActions=_forward((other, 1)))
    health = eventually(
        lambda: (h := health_of(elb, tg)[instance])["State"] == "unused" and h, what="unused"
    )
    assert health["Reason"] == NOT_IN_USE


def test_a_group_a_listener_rule_forwards_to_is_checked(
    localaws: LocalAws,
    launch: Callable[..., list[str]],
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    """TargetHealth: a group used by a rule's forward action is used by its load balancer."""
    ec2, elb = aws_client("ec2"), aws_client("elbv2")
    tg = target_group(forwarded=False)
    (instance,) = launch("v1")
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    listener = forward_to(elb, ec2, target_group())
    elb.create_rule(
        ListenerArn=listener,
        Priority=5,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/rule/*"]}}],
        Actions=_forward((tg, 0)),
    )
    eventually(lambda: health_of(elb, tg)[instance]["State"] == "healthy", what="healthy")


def test_a_target_in_a_zone_the_load_balancer_does_not_enable_is_unused(
    localaws: LocalAws,
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    """TargetHealth: Target.NotInUse, "the target is in an Availability Zone that is not
    enabled for its load balancer"."""
    ec2, elb = aws_client("ec2"), aws_client("elbv2")
    subnets = default_subnets(ec2)
    enabled, outside = subnets[:2], subnets[2]
    tg = target_group(forwarded=False)

    def run_in(subnet: dict[str, Any]) -> str:
        reservation = ec2.run_instances(
            ImageId="ami-03cf127a",
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            SubnetId=subnet["SubnetId"],
            UserData=user_data_for("v1"),
        )
        return str(reservation["Instances"][0]["InstanceId"])

    inside, away = run_in(enabled[0]), run_in(outside)
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": inside}, {"Id": away}])
    lb = elb.create_load_balancer(
        Name=f"zones-{uuid.uuid4().hex[:8]}", Subnets=[s["SubnetId"] for s in enabled]
    )["LoadBalancers"][0]
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=_forward((tg, 1)),
    )
    eventually(lambda: health_of(elb, tg)[inside]["State"] == "healthy", what="healthy")
    eventually(lambda: _booted(ec2, away), what="the other app up")
    health = health_of(elb, tg)[away]
    assert (health["State"], health["Reason"]) == ("unused", NOT_IN_USE)
    assert "Availability Zone" in health["Description"]


def test_a_group_created_without_health_settings_has_aws_defaults(
    localaws: LocalAws, aws_client: Callable[..., Any]
) -> None:
    """CreateTargetGroup / target-group-health-checks: HTTP instance groups default to a 30 s
    interval, a 5 s timeout, healthy after 5, unhealthy after 2, path /, code 200; the
    deregistration delay defaults to 300 s. (Stock moto agrees; this pins it.)"""
    ec2, elb = aws_client("ec2"), aws_client("elbv2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    group = elb.create_target_group(
        Name=f"defaults-{uuid.uuid4().hex[:8]}", Protocol="HTTP", Port=8080, VpcId=vpc["VpcId"]
    )["TargetGroups"][0]
    assert group["HealthCheckIntervalSeconds"] == 30
    assert group["HealthCheckTimeoutSeconds"] == 5
    assert group["HealthyThresholdCount"] == 5
    assert group["UnhealthyThresholdCount"] == 2
    assert group["HealthCheckPath"] == "/"
    assert group["Matcher"] == {"HttpCode": "200"}
    attributes = elb.describe_target_group_attributes(TargetGroupArn=group["TargetGroupArn"])
    values = {a["Key"]: a["Value"] for a in attributes["Attributes"]}
    assert values["deregistration_delay.timeout_seconds"] == "300"


def test_a_checked_target_is_initial_until_healthy_threshold_passes_at_the_interval(
    localaws: LocalAws,
    launch: Callable[..., list[str]],
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    """target-group-health-checks: healthy after HealthyThresholdCount consecutive passes,
    one every HealthCheckIntervalSeconds; meanwhile initial / Elb.InitialHealthChecking.
    With AWS's defaults (5 x 30 s) the first pass comes at once, the fifth 4 intervals on."""
    ec2, elb = aws_client("ec2"), aws_client("elbv2")
    tg = target_group(HealthCheckIntervalSeconds=30, HealthyThresholdCount=5)
    (instance,) = launch("v1")
    eventually(lambda: _booted(ec2, instance), what="the app up")
    start = time.monotonic()
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    states: set[tuple[str, str]] = set()

    def healthy() -> bool:
        health = health_of(elb, tg)[instance]
        states.add((health["State"], health.get("Reason", "")))
        return health["State"] == "healthy"

    eventually(healthy, what="healthy")
    took = time.monotonic() - start
    assert ("initial", "Elb.InitialHealthChecking") in states
    assert not any(state == "unhealthy" for state, _ in states)
    assert took >= 4 * 30 * TEST_TIME_SCALE * 0.9


@pytest.mark.parametrize(
    ("simulate", "reason"),
    [
        ({"never_healthy": 1}, "Target.ResponseCodeMismatch"),
        ({"fail": "run"}, "Target.FailedHealthChecks"),
        ({"health_delay": 5}, "Target.Timeout"),
    ],
)
def test_a_failing_target_is_unhealthy_with_the_reason_elb_gives(
    simulate: dict[str, object],
    reason: str,
    localaws: LocalAws,
    launch: Callable[..., list[str]],
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    """TargetHealth: unhealthy with Target.ResponseCodeMismatch (a code the matcher does not
    take), Target.FailedHealthChecks (no connection), Target.Timeout (no answer in time),
    after UnhealthyThresholdCount failures."""
    elb = aws_client("elbv2")
    tg = target_group()
    (instance,) = launch("v2", simulate=simulate)
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    health = eventually(
        lambda: (h := health_of(elb, tg)[instance])["Reason"] == reason and h,
        within=30,
        what=f"unhealthy with {reason}",
    )
    assert health["State"] == "unhealthy"


def test_a_deregistered_target_drains_for_the_scaled_deregistration_delay(
    localaws: LocalAws,
    launch: Callable[..., list[str]],
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    """Deregistration delay: a deregistered target is draining for the group's delay, then
    gone; 150 s here, on the tests' time scale."""
    elb = aws_client("elbv2")
    tg = target_group()
    elb.modify_target_group_attributes(
        TargetGroupArn=tg,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "150"}],
    )
    (instance,) = launch("v1")
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    eventually(lambda: health_of(elb, tg)[instance]["State"] == "healthy", what="healthy")
    start = time.monotonic()
    elb.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    health = health_of(elb, tg)[instance]
    assert (health["State"], health["Reason"]) == ("draining", "Target.DeregistrationInProgress")
    eventually(lambda: instance not in health_of(elb, tg), what="gone")
    assert time.monotonic() - start >= 150 * TEST_TIME_SCALE * 0.9
