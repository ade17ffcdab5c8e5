"""What a person does to an app's fleet, once for every face: deploy, roll back, abort,
resume, take over an unfinished rollout, read the history (ARCHITECTURE §4, §5).

A face (the console, the command line) gathers the input, calls one operation and shows
what it returns; the operation asks its questions through the face's `confirm` hook and
decides everything else here, so both faces take the deploy lock, gate a production
account, find an unfinished rollout and pick a way back the same way. What the face gives
every operation is one `Face`: its `confirm` hook, its `via` (appended to the deploy
lock's message, such as " from the console") and its `on_start`.

`confirm` is called with a `Question` and may be sync or async. It answers:

- a false value (`False`, `None`): no; the operation changes nothing more and returns an
  `Outcome` whose `refused` is that question;
- `True`: yes, as the question proposes (its `default`);
- for `Ask.TAKE_OVER`, one of the question's `choices` (an `Act`) instead;
- for `Ask.WAY_BACK`, a `WayBack` (flip back, or a fresh deploy of a named release).

The hook may also raise (a face's own refusal, such as "no terminal to ask on"): the
exception goes through the operation as it is, after the lock (if taken) is released.

The faces' order of questions: `Ask.PRODUCTION` first, before anything is read or
locked, when the caller's account is listed in `production_accounts`; then the one
question of the operation. A rollout the operation runs is handed to the face's
`on_start` just before it runs, so the face can follow its events.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from rollout.aws.gateway import Gateway
from rollout.config import Config, Tables
from rollout.deploy import (
    AbortRequest,
    DeployRequest,
    RollbackOptions,
    Rollout,
    RolloutInputError,
    RolloutPlan,
    find_unfinished,
    make_plan,
    owner_alive,
    previous_release,
    request_abort,
    rollback_options,
    rollout_from_item,
)
from rollout.events import RolloutResult
from rollout.ledger.history import BootDurations, app_history, boot_durations
from rollout.ledger.instances import app_boots
from rollout.ledger.lease import DeployLock, whoami
from rollout.ledger.releases import list_releases
from rollout.ledger.rollout_item import RolloutItem
from rollout.ledger.vocabulary import RolloutState
from rollout.model import TAG_APP


class Ask(StrEnum):
    """What a `Question` asks."""

    PRODUCTION = "production"  # the account is a production one: the app's name, typed
    PLAN = "plan"  # go ahead with this plan (a deploy, or a rollback's fresh deploy)?
    WAY_BACK = "way_back"  # roll back this way (flip back, or a fresh deploy)?
    TAKE_OVER = "take_over"  # nothing runs this unfinished rollout: take it over?
    ABORT = "abort"  # ask the app's running rollout to stop?


class Act(StrEnum):
    """What an operation did, or offers to do."""

    DEPLOY = "deploy"  # a rollout of a release on a fresh server group
    FLIP = "flip"  # the running rollout's owner asked to flip traffic back
    FRESH = "fresh"  # a rollback: an earlier release deployed on a fresh server group
    RESUME = "resume"  # an unfinished rollout taken over and continued
    ROLLBACK = "rollback"  # an unfinished rollout taken over and undone
    ABORT = "abort"  # the running rollout asked to stop, or one taken over and undone


TAKE_OVER_ACTS = (Act.RESUME, Act.ROLLBACK, Act.ABORT)


@dataclass(frozen=True, slots=True)
class WayBack:
    """One way back: `Act.FLIP`, or `Act.FRESH` with the release to deploy ("" when the
    ledger knows no earlier release: the operation then refuses, saying so)."""

    act: Act
    release: str = ""


@dataclass(frozen=True, slots=True)
class Question:
    """One question an operation asks its face; the fields its `ask` needs are set.

    `action` is the operation asking ("deploy", "rollback", "resume", "abort").
    """

    ask: Ask
    app: str
    action: str
    account: str = ""  # PRODUCTION: the production account
    plan: RolloutPlan | None = None  # PLAN
    act: Act = Act.DEPLOY  # PLAN: DEPLOY, or FRESH for a rollback's fresh deploy
    options: RollbackOptions | None = None  # WAY_BACK: the ways back and their estimates
    default: WayBack | None = None  # WAY_BACK: the way `True` takes
    unfinished: RolloutItem | None = None  # TAKE_OVER, and WAY_BACK while one runs
    choices: tuple[Act, ...] = ()  # TAKE_OVER: what the face may pick
    take: Act = Act.ROLLBACK  # TAKE_OVER: what `True` does


Answer = bool | Act | WayBack | None
Confirm = Callable[[Question], Answer | Awaitable[Answer]]
OnStart = Callable[[Rollout], object]


@dataclass(frozen=True, slots=True)
class Face:
    """The face an operation is run for: `confirm` answers its questions, `via` is
    appended to the deploy lock's message it takes, `on_start` is handed the rollout it
    runs (none: nobody follows it)."""

    confirm: Confirm
    via: str = ""
    on_start: OnStart | None = None

    async def ask(self, question: Question) -> Answer:
        """The face's answer to `question`, whether its hook is sync or async."""
        answer = self.confirm(question)
        if inspect.isawaitable(answer):
            return await answer
        return answer

    def started(self, rollout: Rollout) -> None:
        """Hand `rollout`, about to run, to `on_start` (when the face gave one)."""
        if self.on_start is not None:
            self.on_start(rollout)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an operation ended. `act` is what was done (None when a question was refused);
    `result` how the rollout this process ran ended; `request` the abort or flip back
    written on a rollout another process runs, and how that rollout stood when waiting
    stopped."""

    app: str
    act: Act | None = None
    rollout_id: str = ""
    result: RolloutResult | None = None
    request: AbortRequest | None = None
    plan: RolloutPlan | None = None
    options: RollbackOptions | None = None
    refused: Question | None = None


@dataclass(frozen=True, slots=True)
class History:
    """An app's rollouts, newest first; its boot durations when asked for; `known` is
    False when the account has no trace of the app (no rollout, release or group)."""

    app: str
    rollouts: tuple[RolloutItem, ...]
    boots: BootDurations | None = None
    known: bool = True


def deploy_lock(
    gw: Gateway, config: Config, app: str, message: str, *, force: bool = False
) -> DeployLock:
    """The app's deploy lock as every operation takes it: in the locks table, a takeover
    (expired, or `force`) audited in the rollouts table."""
    return DeployLock(
        gw,
        config.tables.locks,
        app,
        config.rollout,
        message=message,
        force=force,
        audit_table=config.tables.rollouts,
    )


async def production_account(gw: Gateway, config: Config) -> str:
    """The caller's account when `production_accounts` lists it, else "" (no STS call
    when the list is empty)."""
    if not config.production_accounts:
        return ""
    account = await gw.account_id()
    return account if account in config.production_accounts else ""


async def _production_refused(
    gw: Gateway, config: Config, app: str, action: str, face: Face
) -> Question | None:
    """Ask `Ask.PRODUCTION` on a production account; the question when it was refused."""
    account = await production_account(gw, config)
    if not account:
        return None
    question = Question(Ask.PRODUCTION, app, action, account=account)
    return None if await face.ask(question) else question


async def owner_runs(gw: Gateway, config: Config, item: RolloutItem) -> bool:
    """True when the unfinished rollout is running and its owner still holds the app's
    lease: that process acts on it (an abort or a flip back is asked of it)."""
    return item.state == RolloutState.RUNNING and await owner_alive(gw, config, item)


async def unowned_rollout(gw: Gateway, config: Config, app: str) -> RolloutItem | None:
    """The app's unfinished rollout when nothing runs it (detached, or its owner's lease
    expired); None when there is none or its owner is running it now."""
    item = await find_unfinished(gw, config, app)
    if item is None or await owner_runs(gw, config, item):
        return None
    return item


async def deploy(gw: Gateway, config: Config, request: DeployRequest, face: Face) -> Outcome:
    """Roll the app out as `request` asks: gate production, take the deploy lock (the
    request's `message`, else "deploy VERSION" + the face's `via`), plan, ask `Ask.PLAN`,
    run the rollout to its end (or, `no_wait`, to its shift).

    Raises LockHeld when another owner holds the lock, RolloutInputError for a plan that
    cannot be made (and LeaseLost never: a lost lease is the result's `lost` state).
    """
    app = request.app
    refused = await _production_refused(gw, config, app, "deploy", face)
    if refused is not None:
        return Outcome(app, refused=refused)
    message = request.message or f"deploy {request.version}{face.via}"
    return await _deploy(gw, config, request, face, Question(Ask.PLAN, app, "deploy"), message)


async def _deploy(
    gw: Gateway,
    config: Config,
    request: DeployRequest,
    face: Face,
    plan_question: Question,
    message: str,
    options: RollbackOptions | None = None,
) -> Outcome:
    """Under the app's deploy lock (`message`), plan `request`, ask `plan_question` (the
    caller's `Ask.PLAN`) with the plan set, and run the rollout; the outcome's act is the
    question's, and `options` (a rollback's ways back) go into it."""
    app = request.app
    async with deploy_lock(gw, config, app, message) as lock:
        plan = await make_plan(gw, config, request)
        question = dataclasses.replace(plan_question, plan=plan)
        if not await face.ask(question):
            return Outcome(app, rollout_id=plan.rollout_id, plan=plan, refused=question)
        rollout = Rollout(gw, config, plan, lock, no_wait=request.no_wait)
        face.started(rollout)
        result = await rollout.run()
    return Outcome(
        app, plan_question.act, plan.rollout_id, result=result, plan=plan, options=options
    )


async def offer_takeover(
    gw: Gateway,
    config: Config,
    app: str,
    face: Face,
    *,
    take: Act = Act.RESUME,
) -> Outcome | None:
    """The one "is this rollout's owner alive, else offer to take it over" flow: None when
    the app has no unfinished rollout nothing runs (none, or its owner is running it);
    else gate production, ask `Ask.TAKE_OVER` (resume, roll back or abort it; `True`
    takes `take`) and do what was picked."""
    item = await unowned_rollout(gw, config, app)
    if item is None:
        return None
    refused = await _production_refused(gw, config, app, str(take), face)
    if refused is not None:
        return Outcome(app, rollout_id=item.rollout_id, refused=refused)
    return await take_over(gw, config, item, face, take=take)


async def take_over(
    gw: Gateway,
    config: Config,
    item: RolloutItem,
    face: Face,
    *,
    take: Act,
    choices: tuple[Act, ...] = TAKE_OVER_ACTS,
    force: bool = False,
) -> Outcome:
    """Ask `Ask.TAKE_OVER` of an unfinished rollout, then take the app's deploy lock
    (`force`: even from a live holder) and continue it (`Act.RESUME`) or undo it
    (`Act.ROLLBACK`, `Act.ABORT`: traffic flips back if it moved, the new group is
    deleted). No production gate: the caller has asked it. LockHeld when the lock is
    live; LeaseLost when another process takes it over mid-way."""
    app, rid = item.app, item.rollout_id
    question = Question(Ask.TAKE_OVER, app, str(take), unfinished=item, choices=choices, take=take)
    answer = await face.ask(question)
    act = take if answer is True else answer if isinstance(answer, Act) else None
    if act is None or act not in choices:
        return Outcome(app, rollout_id=rid, refused=question)
    async with deploy_lock(gw, config, app, f"{act} {rid}{face.via}", force=force) as lock:
        rollout = await rollout_from_item(gw, config, item, lock)
        face.started(rollout)
        if act is Act.RESUME:
            result = await rollout.run()
        else:
            result = await rollout.unwind(f"{act} requested by {lock.owner}", aborted=True)
    return Outcome(app, act, rid, result=result)


async def resume(
    gw: Gateway, config: Config, app: str, face: Face, *, force: bool = False
) -> Outcome:
    """Continue the app's unfinished rollout from its last recorded step: gate production,
    ask `Ask.TAKE_OVER` (only `Act.RESUME` offered), take the lock (`force`: even from a
    live holder; else LockHeld while its owner's lease lives) and run it to its end.
    RolloutInputError when the app has no unfinished rollout."""
    refused = await _production_refused(gw, config, app, "resume", face)
    if refused is not None:
        return Outcome(app, refused=refused)
    item = await find_unfinished(gw, config, app)
    if item is None:
        raise RolloutInputError(f"{app} has no unfinished rollout to resume")
    return await take_over(
        gw, config, item, face, take=Act.RESUME, choices=(Act.RESUME,), force=force
    )


async def rollback(
    gw: Gateway,
    config: Config,
    app: str,
    face: Face,
    *,
    to: str = "",
    serving: str = "",
    force: bool = False,
    wait_seconds: float = 0.0,
) -> Outcome:
    """Take the app back, the one way both faces do:

    1. gate production;
    2. unless `to` names a release, the unfinished-rollout check: one nothing runs
       (detached, or its owner's lease expired) is offered to take over (`Ask.TAKE_OVER`,
       `True` rolls it back; `force` takes even a live holder's lock);
    3. else the ways back from `rollback_options` (`serving`: what the fleet shows, for
       an app the ledger knows nothing of) are offered (`Ask.WAY_BACK`). While a rollout
       runs, its owner is asked to flip back (`Act.FLIP`, waiting up to `wait_seconds`
       for it to end); else a fresh deploy of `to`, or of the release that served before
       (`Act.FRESH`), which is planned and asked like a deploy (`Ask.PLAN`).

    RolloutInputError when there is nothing to roll back to, or nothing runs to flip back.
    """
    refused = await _production_refused(gw, config, app, "rollback", face)
    if refused is not None:
        return Outcome(app, refused=refused)
    item = None if to else await find_unfinished(gw, config, app)
    running = item is not None and await owner_runs(gw, config, item)
    if item is not None and not running:
        return await take_over(gw, config, item, face, take=Act.ROLLBACK, force=force)
    options = await rollback_options(gw, config, app, serving=serving)
    if item is not None:
        default = WayBack(Act.FLIP)
    else:
        default = WayBack(Act.FRESH, to or await _previous(gw, config, app))
    question = Question(
        Ask.WAY_BACK,
        app,
        "rollback",
        options=options,
        default=default,
        unfinished=item,
    )
    answer = await face.ask(question)
    way = default if answer is True else answer if isinstance(answer, WayBack) else None
    if way is None:
        return Outcome(app, options=options, refused=question)
    if way.act is Act.FLIP:
        asked = await request_abort(
            gw, config, app, by=await whoami(gw), action="rollback", wait_seconds=wait_seconds
        )
        return Outcome(app, Act.FLIP, asked.rollout_id, request=asked, options=options)
    release = way.release or await previous_release(gw, config, app)
    return await _deploy(
        gw,
        config,
        DeployRequest(app, release),
        face,
        Question(Ask.PLAN, app, "rollback", act=Act.FRESH),
        f"rollback to {release}{face.via}",
        options,
    )


async def _previous(gw: Gateway, config: Config, app: str) -> str:
    """The release that served before the current one, "" when the ledger knows none."""
    try:
        return await previous_release(gw, config, app)
    except RolloutInputError:
        return ""


async def abort(
    gw: Gateway,
    config: Config,
    app: str,
    face: Face,
    *,
    wait_seconds: float = 0.0,
) -> Outcome:
    """Ask the app's running rollout, wherever it runs, to stop (before the shift its new
    group is deleted; after it, traffic flips back): gate production, ask `Ask.ABORT`,
    write the request and wait up to `wait_seconds` for the rollout to end (the face's
    `via` and `on_start` go unused: no lock is taken, no rollout runs here).
    RolloutInputError when no rollout of the app is running (a detached one is offered
    by `offer_takeover`)."""
    refused = await _production_refused(gw, config, app, "abort", face)
    if refused is not None:
        return Outcome(app, refused=refused)
    question = Question(Ask.ABORT, app, "abort")
    if not await face.ask(question):
        return Outcome(app, refused=question)
    asked = await request_abort(
        gw, config, app, by=await whoami(gw), action="abort", wait_seconds=wait_seconds
    )
    return Outcome(app, Act.ABORT, asked.rollout_id, request=asked)


async def history(
    gw: Gateway, config: Config, app: str, *, limit: int | None = None, boots: bool = False
) -> History:
    """The app's rollouts from the ledger, newest first (the `limit` newest), with its
    boot durations when `boots`; a read, so no question is asked."""
    if boots:
        records, boot_items = await asyncio.gather(
            app_history(gw, config.tables, app, limit=limit),
            app_boots(gw, config.tables, app),
        )
        durations: BootDurations | None = boot_durations(records, boot_items)
    else:
        records, durations = await app_history(gw, config.tables, app, limit=limit), None
    known = bool(records) or await app_exists(gw, config.tables, app)
    return History(app, tuple(records), durations, known)


async def app_exists(gw: Gateway, tables: Tables, app: str) -> bool:
    """True when the app has releases or a server group tagged with its name."""
    if await list_releases(gw, tables, app):
        return True
    groups = await gw.paginate(
        "autoscaling",
        "describe_auto_scaling_groups",
        "AutoScalingGroups",
        Filters=[{"Name": f"tag:{TAG_APP}", "Values": [app]}],
    )
    return bool(groups)
