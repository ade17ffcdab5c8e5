"""CloudWatch alarm gates: alarms an app's config names roll a rollout back when in ALARM."""

from __future__ import annotations

from collections.abc import Sequence

from rollout.aws.gateway import Gateway


async def alarms_in_alarm(gw: Gateway, names: Sequence[str]) -> list[tuple[str, str]]:
    """(name, AWS's state reason) of each named alarm whose state is ALARM now; an alarm
    that does not exist is reported too, so a typo never silently disables a gate."""
    if not names:
        return []
    firing: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i in range(0, len(names), 100):  # DescribeAlarms takes 100 names a call
        got = await gw.call("cloudwatch", "describe_alarms", AlarmNames=list(names[i : i + 100]))
        for alarm in got.get("MetricAlarms", []) + got.get("CompositeAlarms", []):
            seen.add(str(alarm["AlarmName"]))
            if alarm.get("StateValue") == "ALARM":
                firing.append((str(alarm["AlarmName"]), str(alarm.get("StateReason", ""))))
    firing += [
        (n, "no such alarm (check the name in [judge.alarms])") for n in names if n not in seen
    ]
    return firing
