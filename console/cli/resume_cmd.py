"""`freshfleet resume APP`: pick up a crashed or detached rollout from its last step."""

from __future__ import annotations

import argparse

from console.cli.app_command import app_command, ledger_session
from console.cli.common import async_command
from console.cli.deploy_cmd import Follow, answers, engine_errors, show_result
from rollout import operations


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    resume_help = "continue APP's interrupted rollout (or finish its bake)"
    with app_command(sub, "resume", resume_help, run, yes=True, production=True) as p:
        p.add_argument(
            "--force", action="store_true", help="take the lock even if its owner's lease is live"
        )


@async_command
async def run(args: argparse.Namespace) -> int:
    async with ledger_session(args) as (gw, config):
        follow = Follow(args)
        async with engine_errors(), follow.watching():
            face = operations.Face(answers(args, "resume its rollout"), on_start=follow.start)
            outcome = await operations.resume(gw, config, args.app, face, force=args.force)
        return show_result(args, outcome)
