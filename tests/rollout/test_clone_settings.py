"""The settings of the serving group a new group keeps beyond those test_launch_carries checks:
the ASG's mixed instances policy, termination policies, capacity rebalance, instance warmup,
lifetime and cooldown, a lifecycle hook's metadata, its SNS notifications; the target group's
slow start and cookie duration; a health check that follows the release's port unless the
group checks a port of its own, which the instances' security group must then admit from the
ALB; and the retained group's schedules held while it waits out of traffic.
"""

from __future__ import annotations

from typing import Any

from tests.fixtures.groups import describe as _describe
from tests.fixtures.groups import new_group as _new_group
from tests.fixtures.groups import serving as _serving

APP = "demo-web"
TEMPLATE = "freshfleet-demo-web"


def _instance_security_group(fleet: Any) -> str:
    data = fleet.aws("ec2").describe_launch_template_versions(
        LaunchTemplateName=TEMPLATE, Versions=["$Default"]
    )["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    (sg,) = data["SecurityGroupIds"]
    return str(sg)


def _alb_security_group(fleet: Any) -> str:
    (lb,) = fleet.aws("elbv2").describe_load_balancers(Names=[APP])["LoadBalancers"]
    return str(lb["SecurityGroups"][0])


def test_the_new_group_keeps_every_asg_setting_aws_keeps(fleet: Any) -> None:
    v1, group = _serving(fleet)
    asg, elb = fleet.aws("autoscaling"), fleet.aws("elbv2")
    version = _describe(fleet, v1)["LaunchTemplate"]["Version"]
    asg.update_auto_scaling_group(
        AutoScalingGroupName=v1,
        TerminationPolicies=["OldestLaunchTemplate", "Default"],
        CapacityRebalance=True,
        DefaultInstanceWarmup=90,
        MaxInstanceLifetime=604800,
        DefaultCooldown=45,
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {
                    "LaunchTemplateName": TEMPLATE,
                    "Version": version,
                },
                "Overrides": [
                    {"InstanceType": "t3.small"},
                    {"InstanceType": "t3a.small", "WeightedCapacity": "1"},
                ],
            },
            "InstancesDistribution": {
                "OnDemandBaseCapacity": 1,
                "OnDemandPercentageAboveBaseCapacity": 50,
                "SpotAllocationStrategy": "price-capacity-optimized",
            },
        },
    )
    asg.put_lifecycle_hook(
        AutoScalingGroupName=v1,
        LifecycleHookName="ship-logs",
        LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
        HeartbeatTimeout=90,
        DefaultResult="CONTINUE",
        NotificationMetadata='{"bucket": "logs"}',
    )
    topic = "arn:aws:sns:us-east-1:123456789012:ops"
    asg.put_notification_configuration(
        AutoScalingGroupName=v1,
        TopicARN=topic,
        NotificationTypes=["autoscaling:EC2_INSTANCE_LAUNCH_ERROR"],
    )
    elb.modify_target_group_attributes(
        TargetGroupArn=group["tg"],
        Attributes=[
            {"Key": "slow_start.duration_seconds", "Value": "45"},
            {"Key": "stickiness.enabled", "Value": "true"},
            {"Key": "stickiness.lb_cookie.duration_seconds", "Value": "600"},
        ],
    )

    run = fleet.cli("deploy", APP, "v2", "-y", "--no-wait")
    assert run.code == 0, run.out + run.err

    v2, new = _new_group(fleet, v1)
    described = _describe(fleet, v2)
    assert described["TerminationPolicies"] == ["OldestLaunchTemplate", "Default"]
    assert described["CapacityRebalance"] is True
    assert described["DefaultInstanceWarmup"] == 90
    assert described["MaxInstanceLifetime"] == 604800
    assert described["DefaultCooldown"] == 45
    mixed = described["MixedInstancesPolicy"]
    spec = mixed["LaunchTemplate"]["LaunchTemplateSpecification"]
    assert spec["LaunchTemplateName"] == TEMPLATE
    assert spec["Version"] != version  # the rollout's own version, carrying v2
    assert [o["InstanceType"] for o in mixed["LaunchTemplate"]["Overrides"]] == [
        "t3.small",
        "t3a.small",
    ]
    assert mixed["InstancesDistribution"]["OnDemandBaseCapacity"] == 1
    assert mixed["InstancesDistribution"]["SpotAllocationStrategy"] == "price-capacity-optimized"
    (hook,) = asg.describe_lifecycle_hooks(AutoScalingGroupName=v2)["LifecycleHooks"]
    assert hook["NotificationMetadata"] == '{"bucket": "logs"}'
    assert (hook["HeartbeatTimeout"], hook["DefaultResult"]) == (90, "CONTINUE")
    sent = asg.describe_notification_configurations(AutoScalingGroupNames=[v2])
    assert [(c["TopicARN"], c["NotificationType"]) for c in sent["NotificationConfigurations"]] == [
        (topic, "autoscaling:EC2_INSTANCE_LAUNCH_ERROR")
    ]
    attrs = {
        a["Key"]: a["Value"]
        for a in elb.describe_target_group_attributes(TargetGroupArn=new["tg"])["Attributes"]
    }
    assert attrs["slow_start.duration_seconds"] == "45"
    assert attrs["stickiness.lb_cookie.duration_seconds"] == "600"


def test_the_health_check_follows_a_release_on_another_port(fleet: Any) -> None:
    v1, group = _serving(fleet)
    elb, ec2 = fleet.aws("elbv2"), fleet.aws("ec2")
    old = elb.describe_target_groups(TargetGroupArns=[group["tg"]])["TargetGroups"][0]
    assert old["HealthCheckPort"] == str(old["Port"]) == "8080"  # checks its traffic port
    ec2.authorize_security_group_ingress(
        GroupId=_instance_security_group(fleet),
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 9090,
                "ToPort": 9090,
                "UserIdGroupPairs": [{"GroupId": _alb_security_group(fleet)}],
            }
        ],
    )
    fleet.put_release("v9", like="v2", port="9090")

    run = fleet.cli("deploy", APP, "v9", "-y", "--no-wait")
    assert run.code == 0, run.out + run.err

    _, new = _new_group(fleet, v1)
    tg = elb.describe_target_groups(TargetGroupArns=[new["tg"]])["TargetGroups"][0]
    assert tg["Port"] == 9090
    assert tg["HealthCheckPort"] in ("traffic-port", "9090")  # never the old 8080


def test_a_health_check_port_the_security_group_closes_is_refused_with_its_number(
    fleet: Any,
) -> None:
    v1, group = _serving(fleet)
    elb = fleet.aws("elbv2")
    elb.modify_target_group(TargetGroupArn=group["tg"], HealthCheckPort="8081")
    sg = _instance_security_group(fleet)

    run = fleet.cli("deploy", APP, "v2", "-y")

    assert run.code == 2, run.out + run.err
    assert "health-checks port 8081 (not the release's 8080)" in run.err
    assert f"admits no TCP 8081 from the load balancer's ({_alb_security_group(fleet)})" in run.err
    assert f"authorize-security-group-ingress --group-id {sg} --protocol tcp --port 8081" in (
        run.err
    )
    assert list(fleet.groups()) == [v1]  # nothing was created


def _suspended(fleet: Any, name: str) -> set[str]:
    return {str(p["ProcessName"]) for p in _describe(fleet, name).get("SuspendedProcesses", [])}


def test_the_retained_groups_schedules_wait_out_the_bake_and_run_again_after_a_rollback(
    fleet: Any, until: Any
) -> None:
    """A nightly schedule that shrinks the retained group mid-bake would leave a flip back
    on a smaller fleet: its ScheduledActions process is suspended from launch until the
    rollout is undone (moto runs no schedule, so the test reads the suspension)."""
    v1, _ = _serving(fleet)
    asg = fleet.aws("autoscaling")
    asg.put_scheduled_update_group_action(
        AutoScalingGroupName=v1,
        ScheduledActionName="night",
        Recurrence="0 1 * * *",
        MinSize=1,
        MaxSize=3,
        DesiredCapacity=1,
    )

    deploy = fleet.spawn("deploy", APP, "v2", "-y", "--bake", "60", "--json")
    try:
        until(
            lambda: any(
                s["name"] == "bake" and s["status"] == "running"
                for s in fleet.latest().get("steps", [])
            ),
            what="the bake to start",
        )
        v2, _ = _new_group(fleet, v1)
        assert "ScheduledActions" in _suspended(fleet, v1)
        assert "ScheduledActions" not in _suspended(fleet, v2)  # the copy's schedules run
        back = fleet.cli("rollback", APP, "-y")
        assert back.code == 0, back.out + back.err
    except BaseException:
        deploy.kill()  # a failed check leaves no deploy baking on after the test
        deploy.communicate(timeout=10)
        raise
    out, err = deploy.communicate(timeout=60)
    assert fleet.serving() == {"v1": 100}
    assert "ScheduledActions" not in _suspended(fleet, v1)
    assert "retained group" in out and "scheduled actions suspended" in out, out + err


def test_a_load_balancer_group_that_sends_nothing_to_the_app_port_is_refused(
    fleet: Any,
) -> None:
    """The ALB's own security group filters its outbound checks: narrowed to 443, every
    health check of port 8080 would time out, whatever the instances admit."""
    v1, _ = _serving(fleet)
    ec2 = fleet.aws("ec2")
    alb_sg = _alb_security_group(fleet)
    everything = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    ec2.revoke_security_group_egress(GroupId=alb_sg, IpPermissions=everything)
    ec2.authorize_security_group_egress(
        GroupId=alb_sg,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": everything[0]["IpRanges"],
            }
        ],
    )

    run = fleet.cli("deploy", APP, "v2", "-y")

    assert run.code == 2, run.out + run.err
    sg = _instance_security_group(fleet)
    assert (
        f"the load balancer's security group {alb_sg} sends no TCP 8080 to the instances' ({sg})"
        in run.err
    )
    assert f"authorize-security-group-egress --group-id {alb_sg}" in run.err
    assert list(fleet.groups()) == [v1]

    # Egress to the instances' group is enough.
    ec2.authorize_security_group_egress(
        GroupId=alb_sg,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8080,
                "UserIdGroupPairs": [{"GroupId": sg}],
            }
        ],
    )
    run = fleet.cli("deploy", APP, "v2", "-y", "--no-wait")
    assert run.code == 0, run.out + run.err
