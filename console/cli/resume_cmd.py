"""`freshfleet resume APP`: pick up a crashed or detached rollout from its last step."""

from __future__ import annotations

import argparse

from console.cli.app_command import app_command, ledger_session
from console.cli.common import UserError, run_async
from console.cli.deploy_cmd import confirm, deploy_lock, drive, engine_errors
from console.cli.production import confirm_production
from rollout.rollouts import find_unfinished, rollout_from_item


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    resume_help = "continue APP's interrupted rollout (or finish its bake)"
    with app_command(sub, "resume", resume_help, run, yes=True, production=True) as p:
        p.add_argument(
            "--force", action="store_true", help="take the lock even if its owner's lease is live"
        )


def run(args: argparse.Namespace) -> int:
    async def main() -> int:
        async with ledger_session(args) as (gw, config):
            await confirm_production(gw, config, args, "resume its rollout")
            item = await find_unfinished(gw, config, args.app)
            if item is None:
                raise UserError(f"{args.app} has no unfinished rollout to resume")
            lock = deploy_lock(
                gw, config, args.app, f"resume {item['rollout_id']}", force=args.force
            )
            async with engine_errors(), lock:
                last = (item.get("steps") or [{}])[-1]
                confirm(
                    args,
                    f"Resume {args.app} {item.get('to_release')} ({item['rollout_id']}) "
                    f"after its {last.get('name', 'first')} step?",
                )
                rollout = await rollout_from_item(gw, config, item, lock)
                return await drive(rollout, args)

    return run_async(main)
