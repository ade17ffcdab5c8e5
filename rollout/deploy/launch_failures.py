"""Launches the ASG could not make: read from its scaling activities, so a gate fails at once
with AWS's own words instead of waiting out its deadline on "no instance was launched"."""

from __future__ import annotations

from datetime import datetime

from rollout.aws.gateway import AwsError, Gateway, is_transient


async def failed_launch(gw: Gateway, asg_name: str, since: datetime) -> str | None:
    """AWS's `StatusMessage` of the newest failed launch of `asg_name` started at or after
    `since`, or None (none failed, or a transient AWS error left this tick without a reading).
    One DescribeScalingActivities call."""
    try:
        got = await gw.call(
            "autoscaling",
            "describe_scaling_activities",
            AutoScalingGroupName=asg_name,
            MaxRecords=20,
        )
    except AwsError as exc:
        if is_transient(exc):
            return None
        raise
    for activity in got.get("Activities", []):
        started = activity.get("StartTime")
        if (
            activity.get("StatusCode") == "Failed"
            and str(activity.get("Description", "")).startswith("Launching")
            and isinstance(started, datetime)
            and started >= since
        ):
            return str(activity.get("StatusMessage") or activity.get("Description"))
    return None
