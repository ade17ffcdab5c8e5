"""Server groups as the rollout engine needs them: found by tags, read, and torn down."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from botocore.parsers import ResponseParserError

from rollout.aws.backend import time_scale
from rollout.aws.gateway import AwsError, Gateway
from rollout.fleet.records import group_of
from rollout.model import TAG_APP, ServerGroup

# An ASG already on its way out: a delete or a change now answers one of these (AWS).
_DELETING = {"ScalingActivityInProgress"}
_GONE = {
    "TargetGroupNotFound",
    "ValidationError",
    "InvalidLaunchTemplateVersion.NotFound",
    "InvalidLaunchTemplateId.VersionNotFound",
    "InvalidLaunchTemplateName.NotFoundException",
}
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
TERMINATING_WAIT = "Terminating:Wait"


async def app_groups(gw: Gateway, app: str) -> list[ServerGroup]:
    """Every ASG tagged as the app's, oldest rollout first."""
    asgs = await gw.paginate(
        "autoscaling",
        "describe_auto_scaling_groups",
        "AutoScalingGroups",
        Filters=[{"Name": f"tag:{TAG_APP}", "Values": [app]}],
    )
    groups = [group_of(a) for a in asgs if a.get("Status") != "Delete in progress"]
    return sorted(groups, key=lambda g: g.rollout_id)


async def describe_group(gw: Gateway, name: str) -> dict[str, Any] | None:
    got = await gw.call("autoscaling", "describe_auto_scaling_groups", AutoScalingGroupNames=[name])
    groups = got.get("AutoScalingGroups", [])
    return groups[0] if groups else None


def serving_group(groups: list[ServerGroup], weights: dict[str, int]) -> ServerGroup | None:
    """The group with the largest weight > 0 on the listener, or None when none serves."""
    live = [g for g in groups if weights.get(g.target_group_arn, 0) > 0]
    return max(live, key=lambda g: weights[g.target_group_arn]) if live else None


async def delete_server_group(
    gw: Gateway,
    *,
    asg_name: str,
    target_group_arn: str,
    launch_template: str,
    launch_template_version: str,
    stall_seconds: float = 600.0,
    on_wait: Callable[[str], None] | None = None,
) -> list[str]:
    """Delete a server group's ASG (and instances), target group and launch-template version.

    Idempotent and resumable: what is already gone is skipped, and an ASG already being
    deleted (`Delete in progress`, `ScalingActivityInProgress`) is progress. The ASG's
    deletion takes its instances' drain and termination, so this waits, with backoff, for as
    long as the group keeps changing (status, instance count); AwsError only when it stood
    unchanged for `stall_seconds`. An instance a terminating lifecycle hook holds
    (`Terminating:Wait`) waits for that hook's owner to complete its action, or, nobody doing
    so, for its HeartbeatTimeout (AWS then terminates it whatever the DefaultResult): this
    waits so much longer, never completes the hook itself, and says so through
    `on_wait(message)`, the message naming the hooks, each time the waiting instances
    change. The target group is deleted once the ASG is gone. Returns warnings for what
    could not be deleted (e.g. an endpoint that does not implement an operation); AWS errors
    otherwise raise.
    """
    warnings: list[str] = []
    if asg_name and await describe_group(gw, asg_name) is not None:
        with contextlib.suppress(AwsError):  # already scaled in or deleting
            await gw.call(
                "autoscaling",
                "update_auto_scaling_group",
                AutoScalingGroupName=asg_name,
                MinSize=0,
                DesiredCapacity=0,
            )
        try:
            await gw.call(
                "autoscaling",
                "delete_auto_scaling_group",
                AutoScalingGroupName=asg_name,
                ForceDelete=True,
            )
        except AwsError as exc:
            if exc.code not in _DELETING and "not found" not in str(exc).lower():
                raise
        await _wait_gone(gw, asg_name, stall_seconds, on_wait)
    if target_group_arn:
        try:
            await gw.call("elbv2", "delete_target_group", TargetGroupArn=target_group_arn)
        except AwsError as exc:
            if exc.code not in _GONE:
                raise
    if launch_template and launch_template_version.isdigit():
        try:
            got = await gw.call(
                "ec2",
                "delete_launch_template_versions",
                LaunchTemplateName=launch_template,
                Versions=[launch_template_version],
            )
            for bad in got.get("UnsuccessfullyDeletedLaunchTemplateVersions", []):
                code = bad.get("ResponseError", {}).get("Code", "")
                if "NotFound" not in code:
                    warnings.append(
                        f"launch template {launch_template} version {launch_template_version} "
                        f"not deleted: {code}"
                    )
        except ResponseParserError:  # an endpoint without the operation (moto 5.2.5)
            warnings.append(
                f"launch template {launch_template} version {launch_template_version} not "
                "deleted: the endpoint cannot delete launch-template versions"
            )
        except AwsError as exc:
            if exc.code not in _GONE:
                warnings.append(
                    f"launch template {launch_template} version {launch_template_version} "
                    f"not deleted: {exc}"
                )
    return warnings


async def _wait_gone(
    gw: Gateway, asg_name: str, stall_seconds: float, on_wait: Callable[[str], None] | None
) -> None:
    """Until DescribeAutoScalingGroups no longer lists `asg_name`: polls at 1 s, backing off
    to 10 s while nothing changes (its status, its instances' lifecycle states); AwsError once
    it stood unchanged for `stall_seconds`, plus, while instances wait in `Terminating:Wait`,
    the longest HeartbeatTimeout of its terminating hooks (wall seconds)."""
    loop = asyncio.get_running_loop()
    seen: tuple[str, tuple[str, ...]] | None = None
    changed_at = loop.time()
    pause = 1.0
    allowance, held = stall_seconds, ""
    while (group := await describe_group(gw, asg_name)) is not None:
        states = tuple(sorted(str(i.get("LifecycleState", "")) for i in group.get("Instances", [])))
        now = (str(group.get("Status", "")), states)
        if now != seen:
            seen, changed_at, pause = now, loop.time(), 1.0
            waiting = states.count(TERMINATING_WAIT)
            held, hook_seconds = await _held_by_hooks(gw, asg_name, waiting)
            allowance = stall_seconds + hook_seconds
            if held and on_wait is not None:
                on_wait(held)
        elif loop.time() - changed_at > allowance:
            status = f" ({now[0]})" if now[0] else ""
            raise AwsError(
                f"auto scaling group {asg_name}{status} has not changed in "
                f"{allowance:.0f} s with {len(now[1])} instances"
                + (f" ({held})" if held else "")
                + "; deleting it again resumes"
            )
        await asyncio.sleep(pause)
        pause = min(pause * 2, 10.0)


async def _held_by_hooks(gw: Gateway, asg_name: str, waiting: int) -> tuple[str, float]:
    """When `waiting` instances of the ASG wait in `Terminating:Wait`: what holds them, in
    words naming its terminating hooks, and the longest of their HeartbeatTimeouts in wall
    seconds (AWS's seconds times the backend's time scale); else ("", 0)."""
    if not waiting:
        return "", 0.0
    try:
        got = await gw.call(
            "autoscaling", "describe_lifecycle_hooks", AutoScalingGroupName=asg_name
        )
    except AwsError:
        got = {}
    hooks = [
        h for h in got.get("LifecycleHooks", []) if h.get("LifecycleTransition") == TERMINATING
    ]
    named = ", ".join(
        f"{h['LifecycleHookName']} (HeartbeatTimeout {int(h.get('HeartbeatTimeout', 3600))} s, "
        f"DefaultResult {h.get('DefaultResult', 'ABANDON')})"
        for h in hooks
    )
    longest = max((float(h.get("HeartbeatTimeout", 3600)) for h in hooks), default=3600.0)
    which = f"the lifecycle hook{'s' if len(hooks) > 1 else ''} {named}" if hooks else "a hook"
    text = (
        f"{waiting} instance{'s' if waiting > 1 else ''} of {asg_name} wait in "
        f"{TERMINATING_WAIT} on {which} ({TERMINATING}): AWS terminates "
        f"{'them' if waiting > 1 else 'it'} once the hook's owner completes the lifecycle "
        "action, else when its heartbeat timeout passes; freshfleet waits and does not "
        "complete another's hook"
    )
    return text, longest * time_scale(gw.backend)
