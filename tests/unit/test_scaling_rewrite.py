"""How a scaling policy is rewritten for the new group, and when the retained group's
schedules are held: the pure parts of rollout.deploy.scaling and clone (the AWS side is
tested on localaws in tests/rollout/test_launch_carries.py and test_clone_settings.py)."""

from __future__ import annotations

from rollout.deploy.clone import TargetGroupClone
from rollout.deploy.scaling import policy_params, schedules_hold

OLD_TG = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-old/aaa"
NEW_TG = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-new/bbb"


def test_metric_math_dimensions_at_any_depth_follow_the_new_group() -> None:
    policy = {
        "PolicyName": "p99",
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingConfiguration": {
            "CustomizedMetricSpecification": {
                "Metrics": [
                    {
                        "Id": "m1",
                        "MetricStat": {
                            "Metric": {
                                "MetricName": "TargetResponseTime",
                                "Namespace": "AWS/ApplicationELB",
                                "Dimensions": [
                                    {"Name": "TargetGroup", "Value": "targetgroup/web-old/aaa"},
                                    {"Name": "AutoScalingGroupName", "Value": "web-old"},
                                    {"Name": "LoadBalancer", "Value": "app/web/ccc"},
                                ],
                            },
                            "Stat": "p99",
                        },
                    }
                ]
            },
            "TargetValue": 0.2,
        },
    }
    params = policy_params(
        policy, old_group="web-old", new_group="web-new", old_tg=OLD_TG, new_tg=NEW_TG
    )
    metric = params["TargetTrackingConfiguration"]["CustomizedMetricSpecification"]["Metrics"][0]
    assert metric["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "TargetGroup", "Value": "targetgroup/web-new/bbb"},
        {"Name": "AutoScalingGroupName", "Value": "web-new"},
        {"Name": "LoadBalancer", "Value": "app/web/ccc"},
    ]
    assert params["AutoScalingGroupName"] == "web-new"
    assert (
        policy["TargetTrackingConfiguration"]["CustomizedMetricSpecification"]["Metrics"][0][
            "MetricStat"
        ]["Metric"]["Dimensions"][1]["Value"]
        == "web-old"
    )  # the serving group's is untouched


def test_schedules_are_held_only_when_some_would_run() -> None:
    nightly = [{"ScheduledActionName": "night", "Recurrence": "0 1 * * *"}]
    assert schedules_hold(nightly, ["AZRebalance"])
    assert not schedules_hold(nightly, ["ScheduledActions"])  # already off: left as it is
    assert not schedules_hold([], [])


def test_a_health_check_port_of_its_own_is_kept_the_traffic_port_follows_the_release() -> None:
    assert (
        TargetGroupClone(params={"HealthCheckPort": "traffic-port"}, attributes=()).health_port(
            9090
        )
        == 9090
    )
    assert (
        TargetGroupClone(params={"HealthCheckPort": "8081"}, attributes=()).health_port(9090)
        == 8081
    )
    assert TargetGroupClone(params={}, attributes=()).health_port(9090) == 9090
