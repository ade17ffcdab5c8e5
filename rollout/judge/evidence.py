"""Reading the groups' request evidence from the load balancer's CloudWatch metrics.

One GetMetricData call for every group in play (ARCHITECTURE §4): per target group its
`RequestCount`, `HTTPCode_Target_5XX_Count`, and `TargetResponseTime` as p99 and as the
average (the p99 when CloudWatch gives one, else the average, and the evidence says which),
summed over the window's periods. The same read works on AWS and on localaws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from rollout.gateway import Gateway
from rollout.judge.verdict import GroupEvidence

NAMESPACE = "AWS/ApplicationELB"
_METRICS = (
    ("r", "RequestCount", "Sum"),
    ("e", "HTTPCode_Target_5XX_Count", "Sum"),
    ("p", "TargetResponseTime", "p99"),
    ("a", "TargetResponseTime", "Average"),
)


def lb_dimension(lb_arn: str) -> str:
    """`app/<name>/<id>`: the `LoadBalancer` dimension of a load balancer's ARN."""
    return lb_arn.split(":loadbalancer/", 1)[-1]


def tg_dimension(tg_arn: str) -> str:
    """`targetgroup/<name>/<id>`: the `TargetGroup` dimension of a target group's ARN."""
    return tg_arn.rsplit(":", 1)[-1]


async def read_evidence(
    gw: Gateway,
    load_balancer_arn: str,
    target_groups: Sequence[str],
    start: datetime,
    end: datetime,
    period_seconds: int,
) -> dict[str, GroupEvidence]:
    """Each target group's evidence (by ARN) between `start` and `end`; groups without a
    datapoint get empty evidence. Raises AwsError as every gateway call does."""
    if not target_groups:
        return {}
    lb = lb_dimension(load_balancer_arn)
    queries = []
    for i, tg in enumerate(target_groups):
        dims = [
            {"Name": "LoadBalancer", "Value": lb},
            {"Name": "TargetGroup", "Value": tg_dimension(tg)},
        ]
        for key, metric, stat in _METRICS:
            queries.append(
                {
                    "Id": f"{key}{i}",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": NAMESPACE,
                            "MetricName": metric,
                            "Dimensions": dims,
                        },
                        "Period": max(1, int(period_seconds)),
                        "Stat": stat,
                    },
                    "ReturnData": True,
                }
            )
    # CloudWatch wants whole seconds and end > start; a look in the window's first second
    # still asks for one second.
    start = start.astimezone(UTC).replace(microsecond=0)
    end = max(end.astimezone(UTC).replace(microsecond=0), start + timedelta(seconds=1))
    values = await _values(gw, queries, start, end)
    return {tg: _evidence(values, i) for i, tg in enumerate(target_groups)}


async def _values(
    gw: Gateway, queries: list[dict[str, Any]], start: datetime, end: datetime
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    token = ""
    for _ in range(20):  # pages: a window of many periods, or many groups
        kwargs: dict[str, Any] = {"NextToken": token} if token else {}
        got = await gw.call(
            "cloudwatch",
            "get_metric_data",
            MetricDataQueries=queries,
            StartTime=start,
            EndTime=end,
            ScanBy="TimestampAscending",
            **kwargs,
        )
        for result in got.get("MetricDataResults", []):
            out.setdefault(str(result["Id"]), []).extend(
                float(v) for v in result.get("Values", []) if v is not None
            )
        token = str(got.get("NextToken") or "")
        if not token:
            break
    return out


def _evidence(values: Mapping[str, list[float]], i: int) -> GroupEvidence:
    requests = round(sum(values.get(f"r{i}", [])))
    errors = round(sum(values.get(f"e{i}", [])))
    p99 = values.get(f"p{i}", [])
    if p99:
        return GroupEvidence(requests, errors, 1000 * max(p99), "p99")
    average = values.get(f"a{i}", [])
    if average:
        return GroupEvidence(requests, errors, 1000 * sum(average) / len(average), "average")
    return GroupEvidence(requests, errors, None, "")
