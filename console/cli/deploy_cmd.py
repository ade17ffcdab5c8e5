"""`freshfleet deploy APP VERSION`: a rollout to a fresh server group, with live progress."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from rich.prompt import Confirm
from rich.text import Text

from console.cli.app_command import app_command, ledger_session
from console.cli.common import Exit, UserError, async_command, err, out, print_json
from console.cli.production import production_gate
from console.cli.progress_rollout import (
    RolloutProgress,
    plan_json,
    render_plan,
    render_result,
    result_json,
)
from console.plain import text
from rollout import operations
from rollout.deploy import STRATEGIES, DeployRequest, Rollout, RolloutInputError
from rollout.deploy.runner import LOST
from rollout.errors import LeaseLost
from rollout.events import Notice, RolloutResult
from rollout.ledger.lease import LockHeld
from rollout.operations import Act, Ask


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    deploy_help = "roll APP out to VERSION on a fresh server group"
    with app_command(
        sub, "deploy", deploy_help, run, yes=True, production=True, insecure_url=True
    ) as p:
        p.add_argument("version")
        p.add_argument("--strategy", choices=STRATEGIES, default="blue-green")
        p.add_argument("--capacity", type=int, help="instances, for an app with no serving group")
        p.add_argument(
            "--bake", dest="bake_seconds", type=float, metavar="S", help="bake window in seconds"
        )
        p.add_argument(
            "--no-wait", action="store_true", help="return after the shift; `resume` bakes"
        )
        p.add_argument(
            "--no-judge",
            action="store_true",
            help="judge this deploy on health checks alone (no traffic evidence)",
        )
        p.add_argument("-m", "--message", default="", help="why: shown to anyone the lock stops")


def request_of(args: argparse.Namespace) -> DeployRequest:
    """The deploy the command line asks for: each field of DeployRequest is the argument
    of its name (`register` names each option once, after its field)."""
    fields = dataclasses.fields(DeployRequest)
    return DeployRequest(**{f.name: getattr(args, f.name) for f in fields})


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


def confirm(args: argparse.Namespace, question: str) -> None:
    """Ask before a destructive step unless -y; never wait on a prompt nobody can answer."""
    if getattr(args, "yes", False):
        return
    if not sys.stdin.isatty():
        raise UserError(f"{question} — pass -y to go ahead without a terminal to ask on")
    if not Confirm.ask(text(question), default=False):
        raise UserError("cancelled", code=Exit.FAILED)


def answers(
    args: argparse.Namespace, production_action: str
) -> Callable[[operations.Question], bool]:
    """The command line's answers to an operation's questions: the production gate (the
    app's name typed, or `--yes-production`), the plan and the ways back printed (unless
    --json), each destructive step asked unless -y. A "no" raises UserError."""

    def answer(q: operations.Question) -> bool:
        if q.ask is Ask.PRODUCTION:
            production_gate(args, q.account, production_action)
        elif q.ask is Ask.PLAN:
            assert q.plan is not None
            if not args.json:
                render_plan(out, q.plan)
            confirm(args, f"Deploy {q.app} {q.plan.release.version}?")
        elif q.ask is Ask.WAY_BACK:
            assert q.options is not None and q.default is not None
            if q.default.act is Act.FLIP:
                assert q.unfinished is not None
                flip = q.options.flip_back
                if flip.available and not args.json:
                    out.print(
                        text(
                            f"flip back to {flip.group} ({flip.release}): "
                            f"{flip.estimate.text} ({flip.estimate.basis})"
                        )
                    )
                confirm(args, f"Roll back {q.app} {q.unfinished.rollout_id}?")
            elif q.default.release and not args.json:
                version = q.default.release
                out.print(text(f"fresh deploy of {version}: {q.options.eta_text(version)}"))
        elif q.ask is Ask.TAKE_OVER:
            u = q.unfinished
            assert u is not None
            if q.take is Act.RESUME:
                confirm(
                    args,
                    f"Resume {q.app} {u.to_release} ({u.rollout_id}) "
                    f"after its {u.last_step or 'first'} step?",
                )
            else:
                confirm(args, f"Roll back {q.app} {u.rollout_id}?")
        return True  # Ask.ABORT: the command itself is the question

    return answer


class Follow:
    """The rollout an operation runs, shown live as it runs (unless --json; a notifier's
    failure always, on stderr); `watching()` closes the display when the operation ends
    and, on a Ctrl-C once traffic moved, says the rollout waits in traffic."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.live = True  # False: the events are shown once the operation ends
        self.rollout: Rollout | None = None
        self.progress: RolloutProgress | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self, rollout: Rollout) -> None:
        """The face's `on_start`: follow this rollout's events from now on (or, not
        `live`, keep it to show its events at the end)."""
        self.rollout = rollout
        self.progress = RolloutProgress(out)
        if self.live:
            self._task = asyncio.create_task(self._follow(rollout, self.progress))

    async def _follow(self, rollout: Rollout, progress: RolloutProgress) -> None:
        async for event in rollout.events():
            if isinstance(event, Notice) and event.source == "notify":
                # A notifier's failure is for the person at the terminal, even under --json.
                err.print(text(f"warning: {event.message}"), highlight=False)
            elif not self.args.json:
                progress.show(event)

    @asynccontextmanager
    async def watching(self) -> AsyncIterator[Follow]:
        try:
            yield self
        except asyncio.CancelledError:  # Ctrl-C: before the shift the engine undid it all
            if self.rollout is not None and self.rollout.shifted:
                err.print(detached_in_traffic(self.rollout))
            raise
        finally:
            if self.progress is not None:
                if not self.live and self.rollout is not None and not self.args.json:
                    for event in self.rollout.stream.history:
                        self.progress.show(event)
                self.progress.close()
            if self._task is not None:
                await asyncio.wait({self._task}, timeout=1.0)
                self._task.cancel()


def show_result(args: argparse.Namespace, outcome: operations.Outcome) -> int:
    """How the rollout the operation ran ended (with its plan under --json); its exit code."""
    result = outcome.result
    assert result is not None
    if args.json:
        plan = outcome.plan
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


@async_command
async def run(args: argparse.Namespace) -> int:
    async with ledger_session(args) as (gw, config):
        if args.no_judge:
            config = config.replace(judge=dataclasses.replace(config.judge, enabled=False))
        follow = Follow(args)
        async with engine_errors(), follow.watching():
            face = operations.Face(answers(args, f"deploy {args.version}"), on_start=follow.start)
            outcome = await operations.deploy(gw, config, request_of(args), face)
        return show_result(args, outcome)
