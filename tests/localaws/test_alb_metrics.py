"""The ALB's request metrics, as AWS publishes them: requests through a load balancer show up
in CloudWatch's `AWS/ApplicationELB` namespace per target group (RequestCount, target 5xx,
TargetResponseTime with its percentiles), and `--traffic` sends steady demo requests.

AWS: Elastic Load Balancing, "CloudWatch metrics for your Application Load Balancer" (the
namespace, the metric names, the LoadBalancer and TargetGroup dimensions); CloudWatch,
"Percentiles" (pNN statistics of the published values). Patch: Statistics.get_statistics_for_type.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from localaws.process import LocalAws
from localaws.testing import boto3_client, start_test_localaws


@pytest.fixture(scope="module")
def busy_localaws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    """The demo with 20 requests a second of demo traffic through its load balancer."""
    directory = Path(tmp_path_factory.mktemp("busy-localaws"))
    env = {
        "FRESHFLEET_LOCALAWS__TRAFFIC_RPS": "20",
    }
    with start_test_localaws(directory, env=env) as la:
        yield la


def demo_group(la: LocalAws) -> tuple[str, str]:
    elb = boto3_client("elbv2", la.url)
    lb = elb.describe_load_balancers(Names=["demo-web"])["LoadBalancers"][0]
    (listener,) = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    forward = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    return lb["LoadBalancerArn"], forward[0]["TargetGroupArn"]


def metric(la: LocalAws, name: str, stat: str, lb: str, tg: str | None) -> list[float]:
    dims = [{"Name": "LoadBalancer", "Value": lb.split(":loadbalancer/")[1]}]
    if tg:
        dims.append({"Name": "TargetGroup", "Value": tg.rsplit(":", 1)[1]})
    now = datetime.now(UTC)
    got = boto3_client("cloudwatch", la.url).get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/ApplicationELB",
                        "MetricName": name,
                        "Dimensions": dims,
                    },
                    "Period": 3600,
                    "Stat": stat,
                },
            }
        ],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=1),
    )
    return [float(v) for v in got["MetricDataResults"][0]["Values"]]


def test_demo_traffic_is_counted_per_target_group_with_aws_names(busy_localaws, eventually):
    lb, tg = demo_group(busy_localaws)
    # Sums over every period of the last hour: a read a moment later may see a new period
    # begin, never fewer requests in all.
    counted = eventually(
        lambda: (v := sum(metric(busy_localaws, "RequestCount", "Sum", lb, tg))) >= 40 and v,
        within=30,
        what="40 demo requests counted",
    )
    ok = sum(metric(busy_localaws, "HTTPCode_Target_2XX_Count", "Sum", lb, tg))
    assert ok >= 0.95 * counted - 20  # the 2xx of those requests (a period behind)
    assert metric(busy_localaws, "HTTPCode_Target_5XX_Count", "Sum", lb, tg) == []
    assert sum(metric(busy_localaws, "RequestCount", "Sum", lb, None)) >= counted  # per LB too


def test_target_response_time_has_percentiles_in_seconds(busy_localaws, eventually):
    lb, tg = demo_group(busy_localaws)
    p99 = eventually(
        lambda: metric(busy_localaws, "TargetResponseTime", "p99", lb, tg),
        within=30,
        what="a p99 of TargetResponseTime",
    )
    p50 = metric(busy_localaws, "TargetResponseTime", "p50", lb, tg)
    average = metric(busy_localaws, "TargetResponseTime", "Average", lb, tg)
    # The demo app works 10 ms a request: seconds, not milliseconds, and p50 <= p99.
    assert 0.009 < p50[0] <= p99[0] < 5.0
    assert 0.009 < average[0] < 5.0
