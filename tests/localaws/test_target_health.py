"""Target health comes from real HTTP checks, with AWS's states and reason codes.

Patches: FakeTargetGroup.register/.deregister/.health_for,
ELBv2Backend.describe_target_health, Instance.terminate — checked through plain boto3.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from localaws_helpers import console_of, health_of

from localaws.process import LocalAws

MISMATCH = "Target.ResponseCodeMismatch"


def test_a_booting_instance_turns_healthy_after_the_threshold(
    localaws: LocalAws,
    launch: Callable[..., list[str]],
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    elb = aws_client("elbv2")
    tg = target_group()
    (instance,) = launch("v1")
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    seen = health_of(elb, tg)[instance]
    assert seen["State"] in ("initial", "healthy")
    eventually(lambda: health_of(elb, tg)[instance]["State"] == "healthy", what="healthy")


def test_an_app_that_answers_500_is_unhealthy_with_response_code_mismatch(
    localaws: LocalAws,
    launch: Callable[..., list[str]],
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    elb = aws_client("elbv2")
    tg = target_group()
    (instance,) = launch("v3", simulate={"never_healthy": 1})
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    # While it boots nothing answers (FailedHealthChecks); once up, it answers 500.
    health = eventually(
        lambda: (h := health_of(elb, tg)[instance])["Reason"] == MISMATCH and h,
        what="unhealthy with Target.ResponseCodeMismatch",
    )
    assert health["State"] == "unhealthy"
    assert "[500]" in health["Description"]


def test_an_app_that_never_started_is_unhealthy_with_failed_health_checks(
    localaws: LocalAws,
    launch: Callable[..., list[str]],
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    elb = aws_client("elbv2")
    tg = target_group()
    (instance,) = launch("v2", simulate={"fail": "run"})
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    health = eventually(
        lambda: (h := health_of(elb, tg)[instance])["State"] == "unhealthy" and h,
        what="unhealthy",
    )
    assert health["Reason"] == "Target.FailedHealthChecks"


def test_an_app_that_crashes_after_healthy_turns_unhealthy(
    localaws: LocalAws,
    launch: Callable[..., list[str]],
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    elb = aws_client("elbv2")
    tg = target_group()
    (instance,) = launch("v2", simulate={"crash_after": 1})
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    eventually(lambda: health_of(elb, tg)[instance]["State"] == "healthy", what="healthy")
    health = eventually(
        lambda: (h := health_of(elb, tg)[instance])["State"] == "unhealthy" and h,
        what="unhealthy after the crash",
    )
    assert health["Reason"] == "Target.ResponseCodeMismatch"
    assert "[500]" in health["Description"]
    ec2 = aws_client("ec2")
    eventually(lambda: "crashed 1 s after healthy" in console_of(ec2, instance), what="crash line")


def test_a_deregistered_target_drains_then_is_gone(
    localaws: LocalAws,
    launch: Callable[..., list[str]],
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    elb = aws_client("elbv2")
    tg = target_group()
    (instance,) = launch("v1")
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    eventually(lambda: health_of(elb, tg)[instance]["State"] == "healthy", what="healthy")
    elb.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    draining = health_of(elb, tg)[instance]
    assert draining["State"] == "draining"
    assert draining["Reason"] == "Target.DeregistrationInProgress"
    eventually(lambda: instance not in health_of(elb, tg), what="gone")
    asked = health_of(elb, tg, [instance])[instance]
    assert asked["State"] == "unused"
    assert asked["Reason"] == "Target.NotRegistered"


def test_a_terminated_instance_drains_then_is_gone(
    localaws: LocalAws,
    launch: Callable[..., list[str]],
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2, elb = aws_client("ec2"), aws_client("elbv2")
    tg = target_group()
    (instance,) = launch("v1")
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    eventually(lambda: health_of(elb, tg)[instance]["State"] == "healthy", what="healthy")
    ec2.terminate_instances(InstanceIds=[instance])
    assert health_of(elb, tg)[instance]["State"] == "draining"
    eventually(lambda: instance not in health_of(elb, tg), what="gone")


def test_a_stopped_instance_drains_then_stays_registered_as_unused(
    localaws: LocalAws,
    launch: Callable[..., list[str]],
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2, elb = aws_client("ec2"), aws_client("elbv2")
    tg = target_group()
    (instance,) = launch("v1")
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    eventually(lambda: health_of(elb, tg)[instance]["State"] == "healthy", what="healthy")
    ec2.stop_instances(InstanceIds=[instance])
    assert health_of(elb, tg)[instance]["State"] == "draining"
    health = eventually(
        lambda: (h := health_of(elb, tg).get(instance, {}))["State"] == "unused" and h,
        what="unused after draining",
    )
    assert health["Reason"] == "Target.InvalidState"
