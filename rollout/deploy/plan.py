"""Plan a rollout: resolve the release, render its user data, read the app's fleet, and
say what will change (release, launch-template version, user-data hash, capacity).

Planning creates nothing in AWS; every bad input is a RolloutInputError (ARCHITECTURE §4, step 1).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from rollout.aws.backend import time_scale
from rollout.aws.gateway import AwsError, Gateway
from rollout.config import Config
from rollout.deploy.clone import (
    GroupClone,
    TargetGroupClone,
    first_target_group,
    read_group,
    read_target_group,
)
from rollout.deploy.health_settings import agent_health_seconds, grace_seconds, recorded_boots
from rollout.deploy.ingress import egress_problem, ingress_problem, instance_security_groups
from rollout.deploy.quota import check_target_budget, target_budget
from rollout.deploy.scaling import scale_in_holds, schedules_hold
from rollout.errors import RolloutInputError
from rollout.fleet.groups import app_groups, serving_group
from rollout.fleet.traffic import TrafficPoint, find_traffic_point, read_weights
from rollout.ledger.releases import get_release
from rollout.ledger.rollout_item import RolloutItem, Step
from rollout.ledger.rollouts import RolloutLedger
from rollout.ledger.vocabulary import RolloutState, Strategy
from rollout.model import TAG_INSTANCE_SUBNETS, Capacity, Release, ServerGroup
from rollout.naming import launch_template_name, new_rollout_id, server_group_name, valid_app_name
from rollout.userdata import UserDataContext, UserDataError, encode_simulate, render_user_data

STRATEGIES: tuple[str, ...] = tuple(str(s) for s in Strategy)  # plain words, for choices
_SAFE_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")


@dataclass(frozen=True, slots=True)
class DeployRequest:
    """What a person asked of a deploy, as every face gathers it: roll `app` out to release
    `version`. `make_plan` checks and resolves it; the operation that runs it reads
    `no_wait` and `message` too (`rollout.operations.deploy`)."""

    app: str
    version: str
    strategy: str = Strategy.BLUE_GREEN.value  # one of STRATEGIES
    capacity: int | None = None  # instances; None: the serving group's (a first deploy needs it)
    bake_seconds: float | None = None  # None: the settings' bake window
    allow_insecure_url: bool = False  # an http:// release URL is allowed
    no_wait: bool = False  # the rollout returns after the shift, detached; `resume` bakes
    message: str = ""  # why: shown to anyone the deploy lock stops ("" lets the operation say)


@dataclass(frozen=True, slots=True)
class PlanChange:
    """One line of the plan's diff."""

    what: str
    before: str
    after: str


# The plan's part of a rollout's ledger item: the fields a RolloutPlan and a RolloutItem
# share by name, and the traffic point's, written by `started_item` and read back by
# `RolloutPlan.from_item`.
_PLAN_ITEM_KEYS = (
    "app",
    "rollout_id",
    "strategy",
    "new_group",
    "old_group",
    "launch_template",
    "launch_template_version",
    "user_data_sha256",
    "capacity",
    "grace_period",
    "scale_in_held",
    "schedules_held",
)
_TRAFFIC_ITEM_KEYS = ("listener_arn", "rule_arn", "load_balancer_arn")


@dataclass(frozen=True, slots=True)
class RolloutPlan:
    """Everything a rollout will do, decided before anything is created."""

    app: str
    rollout_id: str
    release: Release
    strategy: str
    traffic: TrafficPoint
    old_group: ServerGroup | None
    new_group: str  # the name of the new ASG and target group
    launch_template: str
    launch_template_version: str  # the version this rollout will create
    user_data: str
    user_data_sha256: str
    capacity: Capacity
    bake_seconds: float
    old_user_data_sha256: str = ""
    weights: dict[str, int] = field(default_factory=dict)  # the listener's weights at plan time
    target_group: TargetGroupClone = field(default_factory=first_target_group)
    group_clone: GroupClone = field(default_factory=GroupClone)
    health_check_type: str = "ELB"
    grace_period: int = 0  # the new ASG's HealthCheckGracePeriod
    instance_subnets: tuple[str, ...] = ()  # a first group's, from `init --instance-subnet`
    expected_boot_seconds: float | None = None  # typical launch to healthy, when recorded
    scale_in_held: tuple[str, ...] = ()  # the retained group's policies kept from scaling in
    schedules_held: bool = False  # the retained group's scheduled actions suspended meanwhile
    old_target_group: TargetGroupClone | None = None  # the serving group's, for the diff
    agent_health_seconds: float = (
        0.0  # the boot agent's health deadline (FRESHFLEET_HEALTH_TIMEOUT)
    )

    @property
    def subnets(self) -> str:
        """The new ASG's VPCZoneIdentifier: the serving group's, else the app's instance
        subnets, else the load balancer's."""
        if self.old_group and self.old_group.subnets:
            return self.old_group.subnets
        return ",".join(self.instance_subnets or self.traffic.subnets)

    @property
    def from_release(self) -> str:
        return self.old_group.release if self.old_group else ""

    def started_item(
        self, *, owner: str, lock_generation: int, at: str, steps: tuple[Step, ...]
    ) -> RolloutItem:
        """The ledger item of this plan's rollout as it starts now: `running`, nothing done
        but its steps."""
        return RolloutItem(
            state=RolloutState.RUNNING,
            owner=owner,
            lock_generation=lock_generation,
            started_at=at,
            steps=steps,
            from_release=self.from_release,
            to_release=self.release.version,
            bake_seconds=self.bake_seconds,
            **{k: getattr(self, k) for k in _PLAN_ITEM_KEYS},
            **{k: getattr(self.traffic, k) for k in _TRAFFIC_ITEM_KEYS},
        )

    @classmethod
    def from_item(cls, item: RolloutItem, release: Release, *, bake_seconds: float) -> RolloutPlan:
        """The plan of `item`'s rollout as far as its ledger item keeps it: the inverse of
        `started_item`, both reading the fields the two share from one list.

        What the item does not keep (the user data, the VPC and subnets, the clone settings)
        stays at its empty default. `bake_seconds` is the settings' default, for an item
        that recorded none."""
        return cls(
            release=release,
            traffic=TrafficPoint(app=item.app, **{k: getattr(item, k) for k in _TRAFFIC_ITEM_KEYS}),
            user_data="",
            bake_seconds=bake_seconds if item.bake_seconds is None else item.bake_seconds,
            **{k: getattr(item, k) for k in _PLAN_ITEM_KEYS},
        )

    def diff(self) -> list[PlanChange]:
        """What changes, before -> after, for the faces to show before the confirming key."""
        old = self.old_group
        old_cap = old.capacity if old else None
        return [
            PlanChange("release", self.from_release or "(none)", self.release.version),
            # `#3`, never `v3`: a template version is no release, though releases read `v3`.
            PlanChange(
                "LT version",
                f"{self.launch_template} #{old.launch_template_version}" if old else "(none)",
                f"{self.launch_template} #{self.launch_template_version}",
            ),
            PlanChange(
                "user data sha256",
                self.old_user_data_sha256[:12] or "(none)",
                self.user_data_sha256[:12],
            ),
            PlanChange("capacity", str(old_cap) if old_cap else "(none)", str(self.capacity)),
            PlanChange(
                "grace period",
                f"{old.grace_period} s ({old.health_check_type})" if old else "(none)",
                f"{self.grace_period} s ({self.health_check_type})",
            ),
            PlanChange(
                "health check",
                self.old_target_group.check.describe() if self.old_target_group else "(none)",
                self.target_group.check.describe(),
            ),
            PlanChange("agent health deadline", "", f"{self.agent_health_seconds:g} s"),
            PlanChange(
                "deregistration delay",
                f"{self.old_target_group.check.deregistration_delay} s"
                if self.old_target_group
                else "(none)",
                f"{self.target_group.check.deregistration_delay} s",
            ),
            *self._retained_change(),
            PlanChange("subnets", old.subnets if old else "(none)", self.subnets),
            PlanChange("server group", old.name if old else "(none)", self.new_group),
            PlanChange("strategy", "", self.strategy),
        ]

    def _retained_change(self) -> list[PlanChange]:
        """How the retained group keeps its capacity until the rollout ends (none: nothing
        would scale it in)."""
        held = [f"scale-in off for {', '.join(self.scale_in_held)}"] if self.scale_in_held else []
        if self.schedules_held:
            held.append("scheduled actions suspended")
        return [PlanChange("retained group", "", "; ".join(held))] if held else []


async def make_plan(
    gw: Gateway, config: Config, request: DeployRequest, *, rollout_id: str | None = None
) -> RolloutPlan:
    """Resolve and validate the rollout `request` asks for (as `rollout_id`, else a new
    id); creates nothing in AWS."""
    app, version, strategy = request.app, request.version, request.strategy
    capacity, bake_seconds = request.capacity, request.bake_seconds
    if not valid_app_name(app):
        raise RolloutInputError(f"app name {app!r} must be lower-case letters, digits and '-'")
    if strategy not in STRATEGIES:
        raise RolloutInputError(f"strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    if capacity is not None and capacity < 1:
        raise RolloutInputError(f"--capacity must be at least 1, not {capacity}")
    if not _SAFE_VERSION.match(version):
        raise RolloutInputError(
            f"version {version!r} may only hold letters, digits and . _ + - "
            "(no quotes, '$(', ';', spaces or newlines)"
        )
    traffic = await find_traffic_point(gw, app)  # an unknown app is named before its release
    unfinished = await RolloutLedger(gw, config.tables.rollouts).unfinished(app)
    if unfinished is not None:
        rid = unfinished.rollout_id
        raise RolloutInputError(
            f"{app}'s rollout {rid} to {unfinished.to_release} is {unfinished.state} "
            f"and unfinished: `freshfleet resume {app}` finishes it, "
            f"`freshfleet rollback {app}` undoes it"
        )
    release = await get_release(gw, config.tables, app, version)
    if release is None:
        raise RolloutInputError(
            f"release {version!r} of {app} is not in {config.tables.releases} "
            f"(`freshfleet releases {app}` lists them; `freshfleet release add` adds one)"
        )
    rollout_id = rollout_id or new_rollout_id()
    health_deadline = agent_health_seconds(
        release.health_timeout_seconds, config.rollout.gate_deadline_seconds
    )
    try:
        user_data = render_user_data(
            release,
            UserDataContext(
                rollout_id=rollout_id,
                region=await gw.region(),
                instances_table=config.tables.instances,
                ssm_path=ssm_path(app),
                allow_insecure_url=request.allow_insecure_url,
                simulate=encode_simulate(release.simulate),
                health_timeout_seconds=health_deadline,
            ),
        )
    except UserDataError as exc:
        raise RolloutInputError(str(exc)) from exc

    weights = await read_weights(gw, traffic)
    old = serving_group(await app_groups(gw, app), weights)
    if old is not None:
        now = old.capacity
        want = capacity or now.desired
        cap = Capacity(min(now.min_size, want), max(now.max_size, want), want)
    elif capacity is None:
        raise RolloutInputError(
            f"{app} has no serving server group: pass --capacity N for its first deploy"
        )
    else:
        cap = Capacity(capacity, capacity, capacity)

    await _check_target_quota(gw, config, app, strategy, traffic, old, cap)
    lt_name = launch_template_name(app)
    try:
        got = await gw.call("ec2", "describe_launch_templates", LaunchTemplateNames=[lt_name])
    except AwsError as exc:
        raise RolloutInputError(
            f"{app} has no launch template {lt_name} (`freshfleet init {app}` creates it)"
        ) from exc
    template = got["LaunchTemplates"][0]
    latest = int(template["LatestVersionNumber"])
    lt_tags = {t["Key"]: t.get("Value", "") for t in template.get("Tags", [])}
    instance_subnets = tuple(s for s in lt_tags.get(TAG_INSTANCE_SUBNETS, "").split(",") if s)

    template_data = await _template_data(gw, lt_name)
    groups = await instance_security_groups(gw, template_data, traffic.vpc_id)
    problem = await ingress_problem(gw, traffic, groups, int(release.port))
    new_subnets = (
        old.subnets.split(",") if old and old.subnets else list(instance_subnets or traffic.subnets)
    )
    problem = problem or await egress_problem(
        gw, traffic, groups, int(release.port), [s for s in new_subnets if s]
    )
    if problem:
        raise RolloutInputError(f"{release.version} listens on port {release.port}, but {problem}")

    boots = await recorded_boots(gw, config, app)
    if old is not None:
        old_tg = await read_target_group(gw, old.target_group_arn) if old.target_group_arn else None
        tg = old_tg or first_target_group()
        clone = await read_group(gw, old, lt_name)
        check_type, floor = old.health_check_type, old.grace_period
        held = scale_in_holds(clone.policies)
        schedules = schedules_hold(clone.scheduled_actions, clone.suspended_processes)
    else:
        old_tg, tg, clone, check_type, floor, held, schedules = (
            None,
            first_target_group(),
            GroupClone(),
            "ELB",
            0,
            (),
            False,
        )
    health_port = tg.health_port(int(release.port))
    if health_port != int(release.port):
        problem = await ingress_problem(gw, traffic, groups, health_port)
        problem = problem or await egress_problem(
            gw, traffic, groups, health_port, [s for s in new_subnets if s]
        )
        if problem:
            raise RolloutInputError(
                f"the target group health-checks port {health_port} (not the release's "
                f"{release.port}), but {problem}"
            )
    grace = grace_seconds(
        boots.longest(release.version),
        config.rollout.gate_deadline_seconds,
        tg.check,
        floor,
        time_scale=time_scale(gw.backend),
    )
    return RolloutPlan(
        app=app,
        rollout_id=rollout_id,
        release=release,
        strategy=strategy,
        traffic=traffic,
        old_group=old,
        new_group=server_group_name(app, rollout_id),
        launch_template=lt_name,
        launch_template_version=str(latest + 1),
        user_data=user_data,
        user_data_sha256=hashlib.sha256(user_data.encode()).hexdigest(),
        capacity=cap,
        bake_seconds=config.rollout.bake_seconds if bake_seconds is None else bake_seconds,
        old_user_data_sha256=await _old_user_data_sha(gw, lt_name, old),
        weights=weights,
        target_group=tg,
        group_clone=clone,
        health_check_type=check_type,
        grace_period=grace,
        instance_subnets=instance_subnets,
        expected_boot_seconds=boots.typical(release.version),
        scale_in_held=held,
        schedules_held=schedules,
        old_target_group=old_tg,
        agent_health_seconds=health_deadline,
    )


async def _check_target_quota(
    gw: Gateway,
    config: Config,
    app: str,
    strategy: str,
    traffic: TrafficPoint,
    old: ServerGroup | None,
    cap: Capacity,
) -> None:
    # Old and new groups share the load balancer's target quota until retire.
    budget = await target_budget(
        gw,
        traffic,
        old.target_group_arn if old else "",
        cap.desired,
        config.rollout.rolling_batch_percent,
    )
    check_target_budget(budget, strategy, app, old is not None)


def ssm_path(app: str) -> str:
    """Where the app's secrets live in SSM Parameter Store (the instance role may read them)."""
    return f"/freshfleet/{app}/"


async def _template_data(gw: Gateway, lt_name: str) -> dict[str, Any]:
    """The launch template's default version's data (what a new version starts from)."""
    got = await gw.call(
        "ec2",
        "describe_launch_template_versions",
        LaunchTemplateName=lt_name,
        Versions=["$Default"],
    )
    versions = got.get("LaunchTemplateVersions", [])
    return dict(versions[0].get("LaunchTemplateData", {})) if versions else {}


async def _old_user_data_sha(gw: Gateway, lt_name: str, old: ServerGroup | None) -> str:
    if old is None or not old.launch_template_version:
        return ""
    try:
        got = await gw.call(
            "ec2",
            "describe_launch_template_versions",
            LaunchTemplateName=lt_name,
            Versions=[old.launch_template_version],
        )
    except AwsError:
        return ""
    versions = got.get("LaunchTemplateVersions", [])
    data = versions[0].get("LaunchTemplateData", {}).get("UserData", "") if versions else ""
    return hashlib.sha256(base64.b64decode(data)).hexdigest() if data else ""
