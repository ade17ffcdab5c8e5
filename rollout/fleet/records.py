"""Fleet records: AWS responses and ledger items turned into the domain's fleet objects.

Pure functions, safe on a worker thread (the observer parses huge sweeps there): the
observer (`rollout.fleet.observer`) decides what to fetch; this module says what it means.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict

from rollout.ledger.instances import InstanceBoot
from rollout.ledger.rollout_item import RolloutItem
from rollout.ledger.timestamps import parse_time
from rollout.model import (
    NO_CAPACITY,
    TAG_APP,
    TAG_RELEASE,
    TAG_ROLLOUT,
    App,
    Capacity,
    GroupRole,
    HealthState,
    Instance,
    InstanceState,
    LockInfo,
    ServerGroup,
    TargetHealth,
)

if TYPE_CHECKING:  # the traffic module's package imports this one
    from rollout.fleet.traffic import TrafficPoint

ASG_NAME_TAG = "aws:autoscaling:groupName"
TAKEOVER_KIND = "lock-takeover"  # the `kind` of a takeover's audit item (`rollout.ledger.lease`)


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    """What `describe_instances` said about an instance (the observer keeps it until the
    instance's state changes)."""

    state: InstanceState
    app: str
    release: str
    rollout_id: str
    group: str
    az: str
    instance_type: str
    launched_at: datetime | None
    private_ip: str


def health_state_of(value: object) -> HealthState:
    """ELBv2's target state as a HealthState; a state this engine does not know (or none)
    is UNKNOWN, never a failure."""
    try:
        return HealthState(str(value))
    except ValueError:
        return HealthState.UNKNOWN


def target_health_of(description: Mapping[str, Any]) -> TargetHealth:
    """A TargetHealthDescriptions entry's health: state, AWS's reason code, description."""
    return TargetHealth(*target_health_fields(description))


TargetHealthFields = tuple[HealthState, str, str]  # a TargetHealth's state, reason, description


def target_health_fields(description: Mapping[str, Any]) -> TargetHealthFields:
    """A TargetHealthDescriptions entry's `TargetHealth` fields (state, reason, description),
    as a key: the observer keeps one TargetHealth per distinct key."""
    th = description.get("TargetHealth", {})
    return (
        health_state_of(th.get("State", "unknown")),
        str(th.get("Reason", "")),
        str(th.get("Description", "")),
    )


def tags_of(items: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """AWS's `[{"Key": k, "Value": v}]` as `{k: v}`."""
    return {t["Key"]: str(t.get("Value", "")) for t in items}


def launch_template_of(asg: Mapping[str, Any]) -> Mapping[str, Any]:
    """The launch template specification a DescribeAutoScalingGroups entry launches from,
    its own or its mixed instances policy's ({} when it has neither)."""
    spec: Mapping[str, Any] = asg.get("LaunchTemplate") or (
        (asg.get("MixedInstancesPolicy") or {})
        .get("LaunchTemplate", {})
        .get("LaunchTemplateSpecification", {})
    )
    return spec


class AsgSizing(TypedDict):
    """An ASG's size and health check settings, as `ServerGroup` holds them."""

    capacity: Capacity
    health_check_type: str
    grace_period: int


def capacity_of(asg: Mapping[str, Any], fallback: Capacity = NO_CAPACITY) -> Capacity:
    """The sizes of a DescribeAutoScalingGroups entry; a size it lacks is `fallback`'s."""
    return Capacity(
        int(asg.get("MinSize", fallback.min_size)),
        int(asg.get("MaxSize", fallback.max_size)),
        int(asg.get("DesiredCapacity", fallback.desired)),
    )


def sizing_of(asg: Mapping[str, Any]) -> AsgSizing:
    """The size and health check settings of a DescribeAutoScalingGroups entry."""
    return AsgSizing(
        capacity=capacity_of(asg),
        health_check_type=str(asg.get("HealthCheckType", "EC2")),
        grace_period=int(asg.get("HealthCheckGracePeriod", 0)),
    )


def group_of(asg: Mapping[str, Any]) -> ServerGroup:
    """The ServerGroup a DescribeAutoScalingGroups entry describes (the observer's and the
    rollout's alike); app, release and rollout come from its tags, the launch template
    (id, name, version) from its own or its mixed instances policy's. Its role is RETIRING
    while AWS deletes it, IDLE until `group_role`."""
    tags = tags_of(asg.get("Tags", []))
    lt = launch_template_of(asg)
    tgs = asg.get("TargetGroupARNs") or []
    created = asg.get("CreatedTime")
    return ServerGroup(
        name=asg["AutoScalingGroupName"],
        app=tags.get(TAG_APP, ""),
        release=tags.get(TAG_RELEASE, ""),
        rollout_id=tags.get(TAG_ROLLOUT, ""),
        target_group_arn=tgs[0] if tgs else "",
        launch_template_id=str(lt.get("LaunchTemplateId", "")),
        launch_template=str(lt.get("LaunchTemplateName", "")),
        launch_template_version=str(lt.get("Version", "")),
        **sizing_of(asg),
        subnets=str(asg.get("VPCZoneIdentifier", "")),
        instance_ids=tuple(sorted(i["InstanceId"] for i in asg.get("Instances", []))),
        created_at=created if isinstance(created, datetime) else parse_time(created),
        role=GroupRole.RETIRING if "Delete" in str(asg.get("Status", "")) else GroupRole.IDLE,
    )


def latest_per_app(rollouts: Iterable[RolloutItem]) -> dict[str, RolloutItem]:
    """Each app's newest rollout (rollout ids sort by time).

    Audit items that share the rollouts table (a `lock-takeover`, written with a rollout
    id of its own) are not rollouts and never count as an app's latest.
    """
    latest: dict[str, RolloutItem] = {}
    for r in rollouts:
        if r.kind == TAKEOVER_KIND:
            continue
        if r.app not in latest or r.rollout_id > latest[r.app].rollout_id:
            latest[r.app] = r
    return latest


def group_role(
    group: ServerGroup,
    weights: Mapping[str, int],
    rollout: RolloutItem | None,
    all_groups: Iterable[ServerGroup],
) -> GroupRole:
    """A group's role: serving when weighted; retiring while deleted; otherwise from the
    app's unfinished rollout: its own group launching (retiring once it rolls back), the
    previous release's group retained while the new one serves (retiring at the retire
    step); idle when none of these holds."""
    if weights.get(group.target_group_arn, 0) > 0:
        return GroupRole.SERVING
    if group.role is GroupRole.RETIRING:
        return GroupRole.RETIRING
    if rollout is None:
        return GroupRole.IDLE
    if group.rollout_id == rollout.rollout_id:
        # Out of traffic after a rollback, or being cleaned up: on its way out.
        undoing = rollout.step("rollback") or rollout.step("cleanup")
        return GroupRole.RETIRING if undoing else GroupRole.LAUNCHING
    retire = rollout.step("retire")
    if retire is not None and group.release == rollout.from_release:
        return GroupRole.RETIRING
    new_serving = any(
        g.rollout_id == rollout.rollout_id and weights.get(g.target_group_arn, 0) > 0
        for g in all_groups
        if g.app == group.app
    )
    if new_serving and group.release == rollout.from_release:
        return GroupRole.RETAINED
    return GroupRole.IDLE


def parse_instances(reservations: Iterable[Mapping[str, Any]]) -> dict[str, InstanceRecord]:
    """describe_instances reservations -> what we keep per instance (pure; thread-safe)."""
    out: dict[str, InstanceRecord] = {}
    for res in reservations:
        for inst in res.get("Instances", []):
            tags = tags_of(inst.get("Tags", []))
            launched = inst.get("LaunchTime")
            out[inst["InstanceId"]] = InstanceRecord(
                state=InstanceState(inst["State"]["Name"]),
                app=tags.get(TAG_APP, ""),
                release=tags.get(TAG_RELEASE, ""),
                rollout_id=tags.get(TAG_ROLLOUT, ""),
                group=tags.get(ASG_NAME_TAG, ""),
                az=str((inst.get("Placement") or {}).get("AvailabilityZone", "")),
                instance_type=str(inst.get("InstanceType", "")),
                launched_at=launched if isinstance(launched, datetime) else parse_time(launched),
                private_ip=str(inst.get("PrivateIpAddress", "")),
            )
    return out


def instance_of(
    instance_id: str,
    d: InstanceRecord,
    group: ServerGroup | None,
    health: TargetHealth | None,
    boot: InstanceBoot | None,
) -> Instance:
    """The snapshot's Instance: EC2's record, its group, target health and boot phase.

    The boot phase shows only when its row names the instance's app and rollout (any
    instance may write any row of the instances table, as the gate knows too).
    """
    app = d.app or (group.app if group else "")
    rollout_id = d.rollout_id or (group.rollout_id if group else "")
    if boot is not None and (boot.app, boot.rollout) != (app, rollout_id):
        boot = None
    return Instance(
        instance_id=instance_id,
        state=d.state,
        app=app,
        release=d.release or (group.release if group else ""),
        rollout_id=rollout_id,
        group=group.name if group else d.group,
        az=d.az,
        instance_type=d.instance_type,
        launched_at=d.launched_at,
        private_ip=d.private_ip,
        health=health,
        boot=boot.boot if boot else None,
    )


def app_of(
    name: str,
    point: TrafficPoint | None,
    groups: Iterable[ServerGroup],
    lock: LockInfo | None,
    rollout: RolloutItem | None,
) -> App:
    """The App `name`: its traffic point, its groups (oldest rollout first), its lock."""
    mine = sorted(
        (g for g in groups if g.app == name),
        key=lambda g: (g.rollout_id, g.name),
    )
    return App(
        name=name,
        listener_arn=point.listener_arn if point else "",
        rule_arn=point.rule_arn if point else "",
        load_balancer_arn=point.load_balancer_arn if point else "",
        load_balancer_url=point.url if point else "",
        launch_template_id=next((g.launch_template_id for g in mine if g.launch_template_id), ""),
        groups=tuple(mine),
        lock=lock,
        active_rollout_id=rollout.rollout_id if rollout else "",
    )
