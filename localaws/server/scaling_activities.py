"""Scaling activities as AWS records them, and launch failures as AWS reports them
(localaws/README.md, "Scaling activities").

AWS's DescribeScalingActivities lists every launch and termination of a group, newest first;
a launch that fails is a `Failed` activity whose `StatusMessage` is EC2's reason followed by
"Launching EC2 instance failed.", and the group keeps retrying with backoff ("Troubleshoot
Amazon EC2 Auto Scaling: EC2 instance launch failures"). Stock moto lists no activity at all.

A release injects a failure with `FRESHFLEET_SIMULATE` `launch_failure=<code>` (one of
FAILURES): every launch of a group on that release fails with AWS's message for the code.
Called on moto's request threads (and the retry timer's); the log is per group object.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from localaws.timescale import scaled
from rollout.userdata import decode_simulate, parse_release_env

# EC2's words for each failure, as the ASG's activity shows them ({type}, {zone}, {subnet}).
FAILURES = {
    "InsufficientInstanceCapacity": (
        "We currently do not have sufficient {type} capacity in the Availability Zone you "
        "requested ({zone}). Our system will be working on provisioning additional capacity. "
        "You can currently get {type} capacity by not specifying an Availability Zone in your "
        "request or choosing other Availability Zones."
    ),
    "InvalidInstanceProfile": (
        "Value (freshfleet-instance) for parameter iamInstanceProfile.name is invalid. "
        "Invalid IAM Instance Profile name"
    ),
    "InsufficientFreeAddressesInSubnet": (
        "There are not enough free addresses in subnet '{subnet}' to satisfy the requested "
        "number of instances."
    ),
}
RETRY_FIRST_SECONDS = 10.0  # AWS seconds to the first retry of a failed launch; doubles
RETRY_MAX_SECONDS = 300.0
_lock = threading.Lock()


def activities(group: Any) -> list[dict[str, Any]]:
    """The group's activities, newest first, as DescribeScalingActivities shapes them."""
    with _lock:
        return list(reversed(getattr(group, "localaws_activities", [])))


def launch_failure(group: Any) -> str:
    """The failure code the group's release injects (`launch_failure=`), or ''."""
    try:
        raw = group.user_data
        text = raw.decode() if hasattr(raw, "decode") else str(raw or "")
    except (ValueError, UnicodeDecodeError, AttributeError, IndexError, KeyError):
        return ""
    env = parse_release_env(text)
    code = decode_simulate(env.get("FRESHFLEET_SIMULATE", "")).get("launch_failure", "")
    return code if code in FAILURES else ""


def launched(group: Any, instance_ids: list[str], before: int) -> None:
    """Record one `Successful` launch activity per new instance."""
    cause = _cause(group, before)
    for instance_id in instance_ids:
        _record(group, f"Launching a new EC2 instance: {instance_id}", cause, "Successful", "")


def terminated(group: Any, instance_id: str) -> None:
    """Record the termination of one of the group's instances: for the cause given by
    `terminating_because`, else a scale-in's."""
    with _lock:
        cause = getattr(group, "localaws_causes", {}).pop(instance_id, "")
    if not cause and _outside(group, instance_id):
        cause = (
            f"At {_now()} an instance was taken out of service in response to an EC2 health "
            "check indicating it has been terminated or stopped."
        )
    _record(
        group,
        f"Terminating EC2 instance: {instance_id}",
        cause
        or f"At {_now()} an instance was taken out of service in response to a difference "
        "between desired and actual capacity, shrinking the capacity.",
        "Successful",
        "",
    )


def _outside(group: Any, instance_id: str) -> bool:
    """Whether an instance still in the group ends while the group wants every instance it
    has (EC2 TerminateInstances, not a scale-in): the group's EC2 health check finds it."""
    try:
        states = list(group.instance_states)
        members = {s.instance.id for s in states}
        serving = sum(1 for s in states if s.lifecycle_state == "InService")
        return instance_id in members and serving <= int(group.desired_capacity or 0)
    except (AttributeError, TypeError, ValueError):
        return False


def terminating_because(group: Any, instance_id: str, cause: str) -> None:
    """The group is about to terminate `instance_id` for `cause` (a health check's): its
    termination activity gives that cause."""
    with _lock:
        causes = getattr(group, "localaws_causes", None)
        if causes is None:
            causes = group.localaws_causes = {}
        causes[instance_id] = cause


def retell_termination(group: Any, instance_id: str, cause: str) -> None:
    """An instance of the group was terminated outside it (EC2 TerminateInstances): its
    termination activity gets the cause of the health check that found it (one is recorded
    when there was none)."""
    description = f"Terminating EC2 instance: {instance_id}"
    with _lock:
        log = getattr(group, "localaws_activities", [])
        found = next((a for a in reversed(log) if a["Description"] == description), None)
        if found is not None:
            found["Cause"] = cause
            return
    _record(group, description, cause, "Successful", "")


def recorded(group: Any, description: str, cause: str) -> dict[str, Any]:
    """Record one `Successful` activity of the group (a detach, a move to or out of standby)
    and return it as DescribeScalingActivities shapes it."""
    return _record(group, description, cause, "Successful", "")


def now_text() -> str:
    """Now, as AWS writes it in an activity's cause (`2026-01-01T12:00:00Z`)."""
    return _now()


def failed(group: Any, code: str, before: int, retry: Any) -> None:
    """Record a `Failed` launch with AWS's message for `code`, and retry after a backoff:
    `retry()` asks the group for its capacity again (the group's own retry)."""
    subnet = (group.vpc_zone_identifier or "").split(",")[0]
    zone = next(iter(getattr(group, "availability_zones", []) or []), "")
    reason = FAILURES[code].format(type=group.instance_type or "t3.micro", zone=zone, subnet=subnet)
    message = f"{reason} Launching EC2 instance failed."
    _record(
        group,
        f"Launching a new EC2 instance. Status Reason: {message}",
        _cause(group, before),
        "Failed",
        message,
    )
    tries = int(getattr(group, "localaws_failed_launches", 0)) + 1
    group.localaws_failed_launches = tries
    delay = scaled(min(RETRY_FIRST_SECONDS * 2 ** (tries - 1), RETRY_MAX_SECONDS))
    timer = threading.Timer(delay, retry)
    timer.daemon = True
    timer.start()


def _cause(group: Any, before: int) -> str:
    return (
        f"At {_now()} an instance was started in response to a difference between desired and "
        f"actual capacity, increasing the capacity from {before} to {group.desired_capacity}."
    )


def _record(group: Any, description: str, cause: str, status: str, message: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    activity = {
        "ActivityId": str(uuid.uuid4()),
        "AutoScalingGroupName": group.name,
        "Description": description,
        "Cause": cause,
        "StartTime": now,
        "EndTime": now,
        "StatusCode": status,
        "Progress": 100,
        "Details": "{}",
    }
    if message:
        activity["StatusMessage"] = message
    with _lock:
        log = getattr(group, "localaws_activities", None)
        if log is None:
            log = group.localaws_activities = []
        log.append(activity)
        del log[:-1000]  # a long-lived group keeps its last thousand
    return dict(activity)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
