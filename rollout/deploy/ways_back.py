"""What a rollback can do now, and how long each way takes (ARCHITECTURE §4).

Two ways back: flip the listener back to the retained group (the previous release's
group, kept out of traffic while a running rollout bakes) — one listener change, seconds;
or a fresh deploy of an earlier release on a new server group — boot, shift and bake, minutes.
`rollback_options` reads the ledger and the retained group's target health and says which
are possible, why not, and the estimates; the estimating functions are pure.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from rollout.aws.gateway import AwsError, Gateway
from rollout.config import Config, RolloutSettings
from rollout.deploy.health import healthy_count
from rollout.fleet.groups import describe_group
from rollout.ledger.history import BootDurations, app_history, boot_durations
from rollout.ledger.instances import app_boots
from rollout.ledger.releases import list_releases
from rollout.ledger.rollout_item import RolloutItem
from rollout.ledger.rollouts import RolloutLedger
from rollout.ledger.vocabulary import RolloutState, StepName
from rollout.model import Release

# One listener change when the ledger has recorded none: what localaws and AWS take.
DEFAULT_FLIP_SECONDS = 2.0
# Retiring the old group after the bake (scale to zero, delete) when none is recorded.
DEFAULT_RETIRE_SECONDS = 10.0


def format_seconds(seconds: float) -> str:
    """A duration as a person reads an estimate: "~ 2 s", "~ 45 s", "~ 3 min 10 s"."""
    whole = max(1, round(seconds))
    if whole < 60:
        return f"~ {whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes >= 60:
        hours, minutes = divmod(minutes, 60)
        return f"~ {hours} h {minutes} min"
    return f"~ {minutes} min {rest} s" if rest else f"~ {minutes} min"


def step_seconds(records: Iterable[RolloutItem], name: str) -> tuple[float, ...]:
    """Durations of every finished-ok step of that name in the records (newest first)."""
    out: list[float] = []
    for r in records:
        for s in r.steps:
            seconds = s.seconds
            if s.name == name and s.done and seconds is not None and seconds >= 0:
                out.append(seconds)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Estimate:
    """Seconds, and what they rest on ("median of 3 recorded shifts", "default")."""

    seconds: float
    basis: str

    @property
    def text(self) -> str:
        """The estimate as shown: "~ 2 s"."""
        return format_seconds(self.seconds)


def flip_back_estimate(records: Iterable[RolloutItem]) -> Estimate:
    """One listener change: the median of the recorded shift steps, else the default."""
    shifts = step_seconds(records, StepName.SHIFT)
    if not shifts:
        return Estimate(DEFAULT_FLIP_SECONDS, "default: no shift recorded")
    n = len(shifts)
    return Estimate(
        max(0.1, statistics.median(shifts)), f"median of {n} recorded shift{'s' * (n != 1)}"
    )


@dataclass(frozen=True, slots=True)
class DeployEta:
    """A fresh deploy's time by part: boot (launch to healthy), shift, bake, retire."""

    boot: Estimate
    shift: Estimate
    bake_seconds: float
    retire: Estimate

    @property
    def seconds(self) -> float:
        return self.boot.seconds + self.shift.seconds + self.bake_seconds + self.retire.seconds

    @property
    def text(self) -> str:
        """ "ETA ~ 2 min 5 s (boot ~ 45 s, shift ~ 2 s, bake ~ 1 min, retire ~ 10 s)"."""
        return (
            f"ETA {format_seconds(self.seconds)} (boot {self.boot.text}, shift "
            f"{self.shift.text}, bake {format_seconds(self.bake_seconds)}, retire "
            f"{self.retire.text})"
        )


NO_BOOTS = "ETA unknown (no boots recorded)"


def fresh_deploy_eta(
    release: str,
    boots: BootDurations,
    records: Sequence[RolloutItem],
    settings: RolloutSettings,
    bake_seconds: float | None = None,
) -> DeployEta | None:
    """The ETA of deploying `release` on a new group: its typical boot (else the app's),
    plus the shift and retire as recorded, plus the bake from the config. None when no
    boot was ever recorded (the caller says `NO_BOOTS`)."""
    boot = boots.typical(release)
    if boot is None:
        return None
    mine = boots.samples.get(release, ())
    basis = f"median of {len(mine)} boots of {release}" if mine else "median of the app's boots"
    retires = step_seconds(records, StepName.RETIRE)
    retire = (
        Estimate(statistics.median(retires), f"median of {len(retires)} recorded retires")
        if retires
        else Estimate(DEFAULT_RETIRE_SECONDS, "default: no retire recorded")
    )
    return DeployEta(
        boot=Estimate(boot, basis),
        shift=flip_back_estimate(records),
        bake_seconds=settings.bake_seconds if bake_seconds is None else bake_seconds,
        retire=retire,
    )


@dataclass(frozen=True, slots=True)
class FlipBack:
    """Flip the listener back to the retained group; `reason` says why it is not offered."""

    available: bool
    estimate: Estimate
    reason: str = ""
    rollout_id: str = ""  # the running rollout the flip ends
    group: str = ""  # the retained group's name
    release: str = ""  # what it serves again
    healthy: int = 0
    wanted: int = 0


@dataclass(frozen=True, slots=True)
class FreshDeploy:
    """Deploy an earlier release on a new group; `reason` says why it is not offered."""

    available: bool
    release: str  # the default choice: the release before the current one ("" if unknown)
    choices: tuple[str, ...]  # every release but the serving one, oldest first
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RollbackOptions:
    """The two ways back for an app, with what the ETAs of a fresh deploy rest on."""

    app: str
    serving: str  # the release serving now, as the ledger knows it ("" if unknown)
    flip_back: FlipBack
    fresh: FreshDeploy
    boots: BootDurations
    records: tuple[RolloutItem, ...]
    settings: RolloutSettings
    releases: tuple[Release, ...] = ()  # every release of the app, oldest first

    @property
    def fresh_releases(self) -> list[Release]:
        """The releases a fresh deploy may take (every one but the serving), oldest first."""
        choices = set(self.fresh.choices)
        return [r for r in self.releases if r.version in choices]

    def eta(self, release: str) -> DeployEta | None:
        """The ETA of a fresh deploy of `release`; None when no boot was recorded."""
        return fresh_deploy_eta(release, self.boots, self.records, self.settings)

    def eta_text(self, release: str) -> str:
        """The ETA as shown, or `NO_BOOTS`."""
        eta = self.eta(release)
        return eta.text if eta else NO_BOOTS


def serving_release(records: Sequence[RolloutItem]) -> str:
    """What serves now as the ledger tells it (newest first): a running or detached
    rollout's target once it shifted traffic; else the newest finished rollout's target
    when it succeeded, or the release it started from when it did not ("" when none)."""
    for r in records:
        if r.unfinished:
            if r.has_shifted:
                return r.to_release
            continue
        if r.state == RolloutState.SUCCEEDED:
            return r.to_release
        if (
            r.state in (RolloutState.ROLLED_BACK, RolloutState.FAILED, RolloutState.ABORTED)
            and r.from_release
        ):
            return r.from_release
    return ""


def previous_release_of(records: Sequence[RolloutItem]) -> str:
    """The release that served before the current one: the newest succeeded rollout's
    `from_release` ("" when none) — the same answer as `previous_release`."""
    return next((r.from_release for r in records if r.state == RolloutState.SUCCEEDED), "")


def default_release(
    records: Sequence[RolloutItem],
    unfinished: RolloutItem | None,
    releases: Sequence[str],
    serving: str,
) -> str:
    """The release a fresh rollback deploys unless another is picked: the one that served
    before the current one (the unfinished rollout's `from_release`, else the newest
    succeeded rollout's), else the release listed just before the serving one; when what
    serves is unknown, the newest release. "" when nothing is older than what serves: going
    to a newer release is a deploy, not a rollback."""
    choices = [v for v in releases if v != serving]
    before = (unfinished.from_release if unfinished else "") or previous_release_of(records)
    if before in choices:
        return before
    if serving in releases:
        index = releases.index(serving)
        return releases[index - 1] if index > 0 else ""
    return choices[-1] if choices else ""


def no_retained_reason(records: Sequence[RolloutItem]) -> str:
    """Why there is no group to flip back to, when no rollout is baking now."""
    for r in records:
        bake = r.step(StepName.BAKE)
        ended = bake.finished if bake is not None else None
        if r.state == RolloutState.SUCCEEDED and ended is not None:
            return f"no retained group: the bake ended at {_hhmm(ended)}"
    return "no retained group: no rollout is baking"


def _hhmm(at: datetime) -> str:
    return at.strftime("%H:%M")


async def _flip_back(
    gw: Gateway, item: RolloutItem | None, records: Sequence[RolloutItem]
) -> FlipBack:
    estimate = flip_back_estimate(records)
    if item is None:
        return FlipBack(False, estimate, no_retained_reason(records))
    rid = item.rollout_id
    if item.state != RolloutState.RUNNING:
        return FlipBack(
            False,
            estimate,
            f"rollout {rid} is {item.state}: nothing runs it to flip back "
            "(resume, roll back or abort it from the console's offer)",
            rid,
        )
    old = item.old_group
    if old is None:
        return FlipBack(False, estimate, "no retained group: the app had no group before", rid)
    if not item.shifted:
        return FlipBack(
            False,
            estimate,
            f"no retained group yet: {old.name} still serves (abort stops the rollout)",
            rid,
            old.name,
            old.release,
        )
    if await describe_group(gw, old.name) is None:
        return FlipBack(False, estimate, f"no retained group: {old.name} is gone", rid)
    try:
        healthy, why = await healthy_count(gw, old.target_group_arn)
    except AwsError as exc:
        return FlipBack(False, estimate, f"retained group {old.name} unreadable: {exc}", rid)
    wanted = max(1, old.capacity.desired)
    if healthy < wanted:
        return FlipBack(
            False,
            estimate,
            f"retained group {old.name} is unhealthy: {healthy}/{wanted} healthy"
            + (f" ({why})" if why else ""),
            rid,
            old.name,
            old.release,
            healthy,
            wanted,
        )
    return FlipBack(True, estimate, "", rid, old.name, old.release, healthy, wanted)


async def rollback_options(
    gw: Gateway, config: Config, app: str, *, serving: str = ""
) -> RollbackOptions:
    """The ways back for `app` now: the flip back (only while a running rollout bakes with
    a healthy retained group) and a fresh deploy of an earlier release (only when no
    rollout is unfinished), with their estimates. What serves is the ledger's word (it is
    written at the shift, before a fleet poll can see it); `serving`, what the fleet shows,
    stands in when the ledger holds no rollout. Reads the ledger and one target group's
    health."""
    records = tuple(await app_history(gw, config.tables, app, limit=50))
    item = await RolloutLedger(gw, config.tables.rollouts).unfinished(app)
    flip = await _flip_back(gw, item, records)
    serving = serving_release(records) or serving
    listed = tuple(await list_releases(gw, config.tables, app))
    releases = [r.version for r in listed]
    choices = tuple(v for v in releases if v != serving)
    default = default_release(records, item, releases, serving)
    if item is not None:
        fresh = FreshDeploy(
            False,
            default,
            choices,
            f"rollout {item.rollout_id} is unfinished: flip it back or abort it first",
        )
    elif not choices:
        fresh = FreshDeploy(False, "", (), f"{app} has no other release to deploy")
    elif not default:
        fresh = FreshDeploy(
            False, "", choices, f"no release of {app} is older than {serving}: deploy rolls forward"
        )
    else:
        fresh = FreshDeploy(True, default, choices)
    boots = boot_durations(records, await app_boots(gw, config.tables, app))
    return RollbackOptions(app, serving, flip, fresh, boots, records, config.rollout, listed)
