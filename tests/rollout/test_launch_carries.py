"""What a new server group carries over from the serving one: every setting of its target group
and ASG, its scaling policies rewritten for the new group, and a grace period that covers the
release's boot. What cannot be carried over is refused by the plan, never dropped."""

from __future__ import annotations

import json
from typing import Any

from rollout.deploy.health_settings import MIN_GRACE_SECONDS
from tests.fixtures.groups import describe as _describe
from tests.fixtures.groups import new_group as _new_group
from tests.fixtures.groups import serving as _serving

APP = "demo-web"


def test_the_new_group_carries_every_setting_of_the_serving_one(fleet: Any) -> None:
    v1, group = _serving(fleet)
    elb, asg = fleet.aws("elbv2"), fleet.aws("autoscaling")
    elb.modify_target_group(
        TargetGroupArn=group["tg"],
        HealthCheckIntervalSeconds=15,
        HealthCheckTimeoutSeconds=6,
        HealthyThresholdCount=4,
        UnhealthyThresholdCount=3,
        Matcher={"HttpCode": "200-299"},
    )
    elb.modify_target_group_attributes(
        TargetGroupArn=group["tg"],
        Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "7"},
            {"Key": "stickiness.enabled", "Value": "true"},
            {"Key": "stickiness.type", "Value": "lb_cookie"},
            {"Key": "load_balancing.algorithm.type", "Value": "least_outstanding_requests"},
        ],
    )
    elb.add_tags(ResourceArns=[group["tg"]], Tags=[{"Key": "team", "Value": "web"}])
    asg.update_auto_scaling_group(AutoScalingGroupName=v1, NewInstancesProtectedFromScaleIn=True)
    asg.create_or_update_tags(
        Tags=[
            {
                "ResourceId": v1,
                "ResourceType": "auto-scaling-group",
                "Key": "cost-centre",
                "Value": "42",
                "PropagateAtLaunch": True,
            }
        ]
    )
    asg.put_lifecycle_hook(
        AutoScalingGroupName=v1,
        LifecycleHookName="drain-logs",
        LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
        HeartbeatTimeout=120,
        DefaultResult="CONTINUE",
    )
    asg.put_warm_pool(AutoScalingGroupName=v1, MinSize=1, PoolState="Stopped")
    asg.suspend_processes(AutoScalingGroupName=v1, ScalingProcesses=["AZRebalance"])
    asg.enable_metrics_collection(
        AutoScalingGroupName=v1, Metrics=["GroupInServiceInstances"], Granularity="1Minute"
    )
    asg.put_scheduled_update_group_action(
        AutoScalingGroupName=v1,
        ScheduledActionName="nightly",
        Recurrence="0 2 * * *",
        MinSize=3,
        MaxSize=6,
        DesiredCapacity=3,
    )

    run = fleet.cli("deploy", APP, "v2", "-y", "--no-wait")
    assert run.code == 0, run.out + run.err

    v2, new = _new_group(fleet, v1)
    tg = elb.describe_target_groups(TargetGroupArns=[new["tg"]])["TargetGroups"][0]
    assert (
        tg["HealthCheckIntervalSeconds"],
        tg["HealthCheckTimeoutSeconds"],
        tg["HealthyThresholdCount"],
        tg["UnhealthyThresholdCount"],
        tg["Matcher"]["HttpCode"],
    ) == (15, 6, 4, 3, "200-299")
    attrs = {
        a["Key"]: a["Value"]
        for a in elb.describe_target_group_attributes(TargetGroupArn=new["tg"])["Attributes"]
    }
    assert attrs["deregistration_delay.timeout_seconds"] == "7"
    assert attrs["stickiness.enabled"] == "true"
    assert attrs["load_balancing.algorithm.type"] == "least_outstanding_requests"
    tg_tags = elb.describe_tags(ResourceArns=[new["tg"]])["TagDescriptions"][0]["Tags"]
    assert {"Key": "team", "Value": "web"} in tg_tags

    described = _describe(fleet, v2)
    assert described["NewInstancesProtectedFromScaleIn"] is True
    assert [p["ProcessName"] for p in described["SuspendedProcesses"]] == ["AZRebalance"]
    assert [m["Metric"] for m in described["EnabledMetrics"]] == ["GroupInServiceInstances"]
    tags = {t["Key"]: t for t in described["Tags"]}
    assert tags["cost-centre"]["Value"] == "42" and tags["cost-centre"]["PropagateAtLaunch"]
    assert tags["freshfleet:release"]["Value"] == "v2"
    hooks = asg.describe_lifecycle_hooks(AutoScalingGroupName=v2)["LifecycleHooks"]
    assert [(h["LifecycleHookName"], h["HeartbeatTimeout"]) for h in hooks] == [("drain-logs", 120)]
    pool = asg.describe_warm_pool(AutoScalingGroupName=v2)["WarmPoolConfiguration"]
    assert (pool["MinSize"], pool["PoolState"]) == (1, "Stopped")
    schedules = asg.describe_scheduled_actions(AutoScalingGroupName=v2)
    assert [s["Recurrence"] for s in schedules["ScheduledUpdateGroupActions"]] == ["0 2 * * *"]
    assert described["DesiredCapacity"] == 3


def test_a_group_with_what_cannot_be_carried_over_is_refused_by_name(fleet: Any) -> None:
    v1, _ = _serving(fleet)
    asg, cw = fleet.aws("autoscaling"), fleet.aws("cloudwatch")
    asg.put_scaling_policy(
        AutoScalingGroupName=v1,
        PolicyName="cpu-step-up",
        PolicyType="StepScaling",
        AdjustmentType="ChangeInCapacity",
        StepAdjustments=[{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
    )
    arn = asg.describe_policies(AutoScalingGroupName=v1)["ScalingPolicies"][0]["PolicyARN"]
    cw.put_metric_alarm(
        AlarmName="demo-web-cpu-high",
        MetricName="CPUUtilization",
        Namespace="AWS/EC2",
        Statistic="Average",
        Dimensions=[{"Name": "AutoScalingGroupName", "Value": v1}],
        Period=60,
        EvaluationPeriods=2,
        Threshold=70,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[arn],
    )
    asg.suspend_processes(AutoScalingGroupName=v1, ScalingProcesses=["Launch"])

    run = fleet.cli("deploy", APP, "v2", "-y")

    assert run.code == 2, run.out + run.err
    assert "StepScaling policy cpu-step-up driven by alarms demo-web-cpu-high" in run.err
    assert "suspended Launch" in run.err
    assert list(fleet.groups()) == [v1]  # nothing was created
    assert [r["to_release"] for r in fleet.rollouts()] == ["v1"]


def test_policies_follow_the_new_group_and_the_retained_group_never_scales_in(
    fleet: Any, until: Any
) -> None:
    v1, group = _serving(fleet)
    asg = fleet.aws("autoscaling")
    lb = fleet.listener()["LoadBalancerArn"]
    lb_label = lb.split(":loadbalancer/")[1]
    tg_label = "targetgroup/" + group["tg"].split(":targetgroup/")[1]
    asg.put_scaling_policy(
        AutoScalingGroupName=v1,
        PolicyName="requests",
        PolicyType="TargetTrackingScaling",
        TargetTrackingConfiguration={
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ALBRequestCountPerTarget",
                "ResourceLabel": f"{lb_label}/{tg_label}",
            },
            "TargetValue": 500.0,
        },
    )
    asg.put_scaling_policy(
        AutoScalingGroupName=v1,
        PolicyName="queue",
        PolicyType="TargetTrackingScaling",
        TargetTrackingConfiguration={
            "CustomizedMetricSpecification": {
                "MetricName": "Backlog",
                "Namespace": "Shop",
                "Dimensions": [{"Name": "AutoScalingGroupName", "Value": v1}],
                "Statistic": "Average",
            },
            "TargetValue": 10.0,
        },
    )
    asg.put_scaling_policy(
        AutoScalingGroupName=v1,
        PolicyName="forecast",
        PolicyType="PredictiveScaling",
        PredictiveScalingConfiguration={
            "MetricSpecifications": [
                {
                    "TargetValue": 40.0,
                    "PredefinedMetricPairSpecification": {
                        "PredefinedMetricType": "ASGCPUUtilization"
                    },
                }
            ],
            "Mode": "ForecastOnly",
        },
    )

    deploy = fleet.spawn("deploy", APP, "v2", "-y", "--bake", "60")
    try:
        until(
            lambda: any(
                s["name"] == "bake" and s["status"] == "running"
                for s in fleet.latest().get("steps", [])
            ),
            what="the bake to start",
        )
        v2, new = _new_group(fleet, v1)
        copied = {
            p["PolicyName"]: p
            for p in asg.describe_policies(AutoScalingGroupName=v2)["ScalingPolicies"]
        }
        assert set(copied) == {"requests", "queue", "forecast"}
        new_label = "targetgroup/" + new["tg"].split(":targetgroup/")[1]
        spec = copied["requests"]["TargetTrackingConfiguration"]["PredefinedMetricSpecification"]
        assert spec["ResourceLabel"] == f"{lb_label}/{new_label}"
        dims = copied["queue"]["TargetTrackingConfiguration"]["CustomizedMetricSpecification"][
            "Dimensions"
        ]
        assert dims == [{"Name": "AutoScalingGroupName", "Value": v2}]
        assert copied["forecast"]["PredictiveScalingConfiguration"]["Mode"] == "ForecastOnly"
        assert not copied["requests"]["TargetTrackingConfiguration"].get("DisableScaleIn")

        retained = {
            p["PolicyName"]: p["TargetTrackingConfiguration"].get("DisableScaleIn")
            for p in asg.describe_policies(AutoScalingGroupName=v1)["ScalingPolicies"]
            if p["PolicyType"] == "TargetTrackingScaling"
        }
        assert retained == {"requests": True, "queue": True}  # scale-out still works

        back = fleet.cli("rollback", APP, "-y")
        assert back.code == 0, back.out + back.err
    finally:
        deploy.communicate(timeout=60)
    assert fleet.serving() == {"v1": 100}
    after = {
        p["PolicyName"]: p["TargetTrackingConfiguration"].get("DisableScaleIn")
        for p in asg.describe_policies(AutoScalingGroupName=v1)["ScalingPolicies"]
        if p["PolicyType"] == "TargetTrackingScaling"
    }
    assert after == {"requests": False, "queue": False}


def test_the_plan_shows_the_grace_and_health_check_it_chose(fleet: Any) -> None:
    v1, _ = _serving(fleet)
    run = fleet.cli("deploy", APP, "v2", "-y", "--json", "--no-wait")
    assert run.code == 0, run.out + run.err
    changes = {c["what"]: c for c in json.loads(run.out)["plan"]["changes"]}
    before = _describe(fleet, v1)["HealthCheckGracePeriod"]
    assert changes["grace period"]["before"] == f"{before} s (ELB)"
    v2, _ = _new_group(fleet, v1)
    grace = _describe(fleet, v2)["HealthCheckGracePeriod"]
    assert changes["grace period"]["after"] == f"{grace} s (ELB)"
    assert grace >= MIN_GRACE_SECONDS
    assert "every" in changes["health check"]["after"]
    assert changes["deregistration delay"]["after"].endswith(" s")
    # The boot agent's health deadline: half the gate deadline, as no release sets its own.
    gate = float(fleet.env["FRESHFLEET_ROLLOUT__GATE_DEADLINE_SECONDS"])
    assert changes["agent health deadline"]["after"] == f"{gate / 2:g} s"


def test_an_instance_security_group_closed_to_the_load_balancer_is_refused(fleet: Any) -> None:
    ec2 = fleet.aws("ec2")
    data = ec2.describe_launch_template_versions(
        LaunchTemplateName="freshfleet-demo-web", Versions=["$Default"]
    )["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    (sg,) = data["SecurityGroupIds"]
    perms = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]["IpPermissions"]
    app_port = [p for p in perms if p.get("FromPort") == 8080]
    ec2.revoke_security_group_ingress(GroupId=sg, IpPermissions=app_port)

    run = fleet.cli("deploy", APP, "v2", "-y")

    assert run.code == 2, run.out + run.err
    assert f"admits no TCP 8080 from the load balancer's ({sg})" in run.err
    assert f"authorize-security-group-ingress --group-id {sg}" in run.err
    assert len(fleet.groups()) == 1
