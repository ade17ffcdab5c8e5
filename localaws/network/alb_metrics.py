"""The ALB data plane's request metrics, published to localaws's CloudWatch as AWS does.

AWS publishes an Application Load Balancer's metrics in the `AWS/ApplicationELB` namespace
every period (60 s on AWS; here that period under the localaws time scale): per target group
with the dimensions `LoadBalancer=app/<name>/<id>` and `TargetGroup=targetgroup/<name>/<id>`,
`RequestCount`, `HTTPCode_Target_{2,3,4,5}XX_Count` and `TargetResponseTime` (seconds; its
percentiles come from the raw values, published as CloudWatch value/count pairs), and per load
balancer `RequestCount` and `HTTPCode_ELB_5XX_Count` (answers the load balancer made itself).
See the ALB user guide's "CloudWatch metrics for your Application Load Balancer".
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from localaws.tasks import cancel_and_wait
from rollout.judge.evidence import NAMESPACE, lb_dimension, tg_dimension

log = logging.getLogger(__name__)

_MAX_DISTINCT_VALUES = 150  # PutMetricData's limit on a datum's Values


class RequestMeter:
    """Counts requests per (load balancer, target group) for the current period.

    `record` runs on the data plane's loop; `take` hands the period's counts over and starts
    the next period (a lock makes the hand-over safe from the publisher's thread too).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        self._times: dict[tuple[str, str], Counter[float]] = defaultdict(Counter)
        self._elb: dict[str, Counter[str]] = defaultdict(Counter)

    def record(self, lb_arn: str, tg_arn: str, status: int, seconds: float) -> None:
        """One answer from a target of `tg_arn` (its status and response time)."""
        key = (lb_dimension(lb_arn), tg_dimension(tg_arn))
        with self._lock:
            codes = self._codes[key]
            codes["RequestCount"] += 1
            codes[f"HTTPCode_Target_{min(max(status // 100, 2), 5)}XX_Count"] += 1
            self._times[key][round(seconds, 3)] += 1
            self._elb[key[0]]["RequestCount"] += 1

    def record_elb_error(self, lb_arn: str, status: int) -> None:
        """An answer the load balancer made itself (no target, or the target failed)."""
        with self._lock:
            lb = self._elb[lb_dimension(lb_arn)]
            lb["RequestCount"] += 1
            lb[f"HTTPCode_ELB_{status // 100}XX_Count"] += 1

    def take(self) -> list[dict[str, Any]]:
        """The period's datums for PutMetricData (empty when nothing was served), stamped now
        in moto's own clock (naive UTC, as moto compares timestamps)."""
        from moto.core.utils import utcnow

        with self._lock:
            codes, times, elb = self._codes, self._times, self._elb
            self._codes, self._times, self._elb = (
                defaultdict(Counter),
                defaultdict(Counter),
                defaultdict(Counter),
            )
        stamp = utcnow()
        data: list[dict[str, Any]] = []
        for (lb, tg), counts in codes.items():
            dims = [{"Name": "LoadBalancer", "Value": lb}, {"Name": "TargetGroup", "Value": tg}]
            for name, value in counts.items():
                data.append(_datum(name, dims, stamp, value=value, unit="Count"))
            values, weights = _bucketed(times[(lb, tg)])
            data.append(
                _datum(
                    "TargetResponseTime", dims, stamp, values=values, counts=weights, unit="Seconds"
                )
            )
        for lb, counts in elb.items():
            dims = [{"Name": "LoadBalancer", "Value": lb}]
            for name, value in counts.items():
                data.append(_datum(name, dims, stamp, value=value, unit="Count"))
        return data


def _bucketed(times: Counter[float]) -> tuple[list[float], list[float]]:
    # At most 150 distinct values per datum: merge neighbours when there are more.
    items = sorted(times.items())
    while len(items) > _MAX_DISTINCT_VALUES:
        merged: list[tuple[float, int]] = []
        for i in range(0, len(items), 2):
            pair = items[i : i + 2]
            total = sum(c for _, c in pair)
            merged.append((sum(v * c for v, c in pair) / total, total))
        items = merged
    return [v for v, _ in items], [float(c) for _, c in items]


def _datum(
    name: str,
    dims: list[dict[str, str]],
    at: datetime,
    *,
    value: float | None = None,
    values: list[float] | None = None,
    counts: list[float] | None = None,
    unit: str,
) -> dict[str, Any]:
    datum: dict[str, Any] = {"MetricName": name, "Dimensions": dims, "Timestamp": at, "Unit": unit}
    if values is not None:
        datum["Values"], datum["Counts"] = values, counts
    else:
        datum["Value"] = float(value or 0)
    return datum


class MetricsPublisher:
    """Every period, moves the meter's counts into CloudWatch for `region` (in process)."""

    def __init__(self, meter: RequestMeter, region: str, period_seconds: float) -> None:
        self.meter = meter
        self.region = region
        self.period = max(0.05, period_seconds)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="alb-metrics")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self.publish()  # the last partial period too

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            self.publish()

    def publish(self) -> None:
        data = self.meter.take()
        if not data:
            return
        from moto.cloudwatch.models import cloudwatch_backends
        from moto.core.models import DEFAULT_ACCOUNT_ID

        try:
            backend = cloudwatch_backends[DEFAULT_ACCOUNT_ID][self.region]
            for i in range(0, len(data), 1000):  # PutMetricData takes 1,000 datums a call
                backend.put_metric_data(NAMESPACE, data[i : i + 1000])
        except Exception:  # a metrics hiccup must never touch the traffic it counts
            log.exception("publishing the ALB metrics failed")
