"""Reading the groups' request evidence from the load balancer's CloudWatch metrics.

One GetMetricData call for every group in play (ARCHITECTURE §4): per target group its
`RequestCount` and `HTTPCode_Target_5XX_Count` summed over the window's periods, and
`TargetResponseTime` as a percentile (p99 by default) and as the average over ONE period as
long as the window, so the percentile is that of all the window's requests (the largest of
per-period p99s would be the window's slowest request). The percentile when CloudWatch gives
one, else the average, and the evidence says which. The same read works on AWS and on localaws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from rollout.aws.gateway import Gateway
from rollout.judge.verdict import GroupEvidence

NAMESPACE = "AWS/ApplicationELB"
_COUNTS = (("r", "RequestCount", "Sum"), ("e", "HTTPCode_Target_5XX_Count", "Sum"))


def percentile_stat(percentile: float) -> str:
    """CloudWatch's name of a percentile statistic: 99 → `p99`, 99.9 → `p99.9`."""
    return f"p{percentile:g}"


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
    percentile: float = 99.0,
) -> dict[str, GroupEvidence]:
    """Each target group's evidence (by ARN) between `start` and `end`; groups without a
    datapoint get empty evidence. Raises AwsError as every gateway call does."""
    if not target_groups:
        return {}
    # CloudWatch wants whole seconds and end > start; a look in the window's first second
    # still asks for one second.
    start = start.astimezone(UTC).replace(microsecond=0)
    end = max(end.astimezone(UTC).replace(microsecond=0), start + timedelta(seconds=1))
    period = max(1, int(period_seconds))
    # The latency's one period: the window rounded up to whole periods (CloudWatch wants a
    # multiple of the metric's period).
    window = -(-int((end - start).total_seconds()) // period) * period
    stat = percentile_stat(percentile)
    lb = lb_dimension(load_balancer_arn)
    queries = []
    for i, tg in enumerate(target_groups):
        dims = [
            {"Name": "LoadBalancer", "Value": lb},
            {"Name": "TargetGroup", "Value": tg_dimension(tg)},
        ]
        metrics = [
            *_COUNTS,
            ("p", "TargetResponseTime", stat),
            ("a", "TargetResponseTime", "Average"),
        ]
        for key, metric, how in metrics:
            span = period if key in "re" else window
            queries.append(_query(f"{key}{i}", metric, dims, how, span))
    values = await _values(gw, queries, start, end)
    return {tg: _evidence(values, i, stat) for i, tg in enumerate(target_groups)}


def _query(
    query_id: str, metric: str, dims: list[dict[str, str]], stat: str, period: int
) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dims},
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": True,
    }


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


def _evidence(values: Mapping[str, list[float]], i: int, stat: str) -> GroupEvidence:
    requests = round(sum(values.get(f"r{i}", [])))
    errors = round(sum(values.get(f"e{i}", [])))
    # One latency datapoint per window, or two where CloudWatch aligns the period's start
    # to the minute: the larger is the one taken.
    tail = values.get(f"p{i}", [])
    if tail:
        return GroupEvidence(requests, errors, 1000 * max(tail), stat)
    average = values.get(f"a{i}", [])
    if average:
        return GroupEvidence(requests, errors, 1000 * sum(average) / len(average), "average")
    return GroupEvidence(requests, errors, None, "")
