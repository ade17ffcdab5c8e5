"""`freshfleet deploy APP VERSION`: a rollout to a fresh server group, with live progress."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rich.prompt import Confirm
from rich.text import Text

from console.cli.app_command import app_command, ledger_session
from console.cli.common import Exit, UserError, err, out, print_json, run_async
from console.cli.production import confirm_production
from console.cli.progress_rollout import (
    RolloutProgress,
    plan_json,
    render_plan,
    render_result,
    result_json,
)
from console.plain import text
from rollout.config import Config
from rollout.events import Notice, RolloutResult
from rollout.gateway import Gateway
from rollout.lock import DeployLock, LockHeld
from rollout.rollouts import STRATEGIES, Rollout, RolloutInputError, RolloutPlan, make_plan
from rollout.rollouts.errors import LeaseLost
from rollout.rollouts.runner import LOST


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    deploy_help = "roll APP out to VERSION on a fresh server group"
    with app_command(sub, "deploy", deploy_help, run, yes=True, production=True) as p:
        p.add_argument("version")
        p.add_argument("--strategy", choices=STRATEGIES, default="blue-green")
        p.add_argument("--capacity", type=int, help="instances, for an app with no serving group")
        p.add_argument("--bake", type=float, metavar="S", help="bake window in seconds")
        p.add_argument(
            "--no-wait", action="store_true", help="return after the shift; `resume` bakes"
        )
        p.add_argument(
            "--allow-insecure-url", action="store_true", help="allow an http:// release URL"
        )
        p.add_argument(
            "--no-judge",
            action="store_true",
            help="judge this deploy on health checks alone (no traffic evidence)",
        )
        p.add_argument("-m", "--message", default="", help="why: shown to anyone the lock stops")


def exit_of(result: RolloutResult) -> int:
    """0 when the release serves (or was left detached on purpose), 3 when this process lost
    the deploy lock to another owner mid-way, else 1 (ARCHITECTURE §5)."""
    if result.state == LOST:
        return Exit.LOCKED
    return Exit.OK if result.ok else Exit.FAILED


@asynccontextmanager
async def engine_errors() -> AsyncIterator[None]:
    """The engine's refusals as the CLI's exit codes: lock held (or lost) 3, bad input 2."""
    try:
        yield
    except (LockHeld, LeaseLost) as exc:
        raise UserError(str(exc), code=Exit.LOCKED) from exc
    except RolloutInputError as exc:
        raise UserError(str(exc)) from exc


def deploy_lock(
    gw: Gateway, config: Config, app: str, message: str, *, force: bool = False
) -> DeployLock:
    """The app's deploy lock as `deploy`, `rollback` and `resume` take it: in the locks
    table, a takeover (`force`) audited in the rollouts table."""
    return DeployLock(
        gw,
        config.tables.locks,
        app,
        config.rollout,
        message=message,
        force=force,
        audit_table=config.tables.rollouts,
    )


def confirm(args: argparse.Namespace, question: str) -> None:
    """Ask before a destructive step unless -y; never wait on a prompt nobody can answer."""
    if getattr(args, "yes", False):
        return
    if not sys.stdin.isatty():
        raise UserError(f"{question} — pass -y to go ahead without a terminal to ask on")
    if not Confirm.ask(text(question), default=False):
        raise UserError("cancelled", code=Exit.FAILED)


async def drive(
    rollout: Rollout, args: argparse.Namespace, *, plan: RolloutPlan | None = None
) -> int:
    """Run the rollout, showing its events (unless --json), and print how it ended."""
    progress = RolloutProgress(out)

    async def follow() -> None:
        async for event in rollout.events():
            if isinstance(event, Notice) and event.source == "notify":
                # A notifier's failure is for the person at the terminal, even under --json.
                err.print(text(f"warning: {event.message}"), highlight=False)
            elif not args.json:
                progress.show(event)

    follower = asyncio.create_task(follow())
    try:
        result = await rollout.run()
    except asyncio.CancelledError:  # Ctrl-C: before the shift the engine undid it all
        if rollout.shifted:
            err.print(detached_in_traffic(rollout))
        raise
    finally:
        progress.close()
        await asyncio.wait({follower}, timeout=1.0)
        follower.cancel()
    if args.json:
        print_json({**result_json(result), **({"plan": plan_json(plan)} if plan else {})})
    else:
        render_result(out, result)
    return exit_of(result)


def detached_in_traffic(rollout: Rollout) -> Text:
    """What now, after a Ctrl-C once traffic moved: the rollout waits, in traffic."""
    app = rollout.app
    return text(
        ("interrupted after traffic moved:", "yellow"),
        f" rollout {rollout.rollout_id} is "
        f"detached in traffic ({rollout.plan.release.version} serves). "
        f"`freshfleet resume {app}` finishes it; `freshfleet rollback {app}` flips traffic back.",
    )


async def deploy(
    gw: Gateway,
    config: Config,
    args: argparse.Namespace,
    app: str,
    version: str,
    *,
    strategy: str = "blue-green",
    message: str = "",
) -> int:
    """Lock, plan, confirm, run: the flow `deploy` and a later `rollback` share.

    The caller has checked the ledger tables (`ledger_session`).
    """
    lock = deploy_lock(gw, config, app, message or f"deploy {version}")
    async with engine_errors(), lock:
        plan = await make_plan(
            gw,
            config,
            app,
            version,
            strategy=strategy,
            capacity=getattr(args, "capacity", None),
            bake_seconds=getattr(args, "bake", None),
            allow_insecure_url=getattr(args, "allow_insecure_url", False),
        )
        if not args.json:
            render_plan(out, plan)
        confirm(args, f"Deploy {app} {version}?")
        rollout = Rollout(gw, config, plan, lock, no_wait=getattr(args, "no_wait", False))
        return await drive(rollout, args, plan=plan)


def run(args: argparse.Namespace) -> int:
    async def main() -> int:
        async with ledger_session(args) as (gw, config):
            await confirm_production(gw, config, args, f"deploy {args.version}")
            if args.no_judge:
                config = config.replace(judge=dataclasses.replace(config.judge, enabled=False))
            return await deploy(
                gw,
                config,
                args,
                args.app,
                args.version,
                strategy=args.strategy,
                message=args.message,
            )

    return run_async(main)
