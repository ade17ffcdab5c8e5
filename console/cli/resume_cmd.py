"""`freshfleet resume APP`: pick up a crashed or detached rollout from its last step."""

from __future__ import annotations

import argparse

from console.cli.common import (
    UserError,
    add_backend_flags,
    add_output_flags,
    backend_of,
    config_of,
    run_async,
)
from console.cli.deploy_cmd import confirm, drive, engine_errors
from console.cli.setup_cmd import require_tables
from rollout.gateway import Gateway
from rollout.lock import DeployLock
from rollout.rollouts import find_unfinished, rollout_from_item


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("resume", help="continue APP's interrupted rollout (or finish its bake)")
    p.add_argument("app")
    p.add_argument(
        "--force", action="store_true", help="take the lock even if its owner's lease is live"
    )
    add_backend_flags(p)
    add_output_flags(p, yes=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    async def main() -> int:
        config = config_of(args)
        async with Gateway(backend_of(args)) as gw:
            await require_tables(gw, config.tables)
            item = await find_unfinished(gw, config, args.app)
            if item is None:
                raise UserError(f"{args.app} has no unfinished rollout to resume")
            lock = DeployLock(
                gw,
                config.tables.locks,
                args.app,
                config.rollout,
                message=f"resume {item['rollout_id']}",
                force=args.force,
                audit_table=config.tables.rollouts,
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
