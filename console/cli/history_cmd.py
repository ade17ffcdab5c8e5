"""`freshfleet history APP`: the app's rollouts, newest first, with duration and outcome."""

from __future__ import annotations

import argparse

from console.cli.app_command import app_command, ledger_session
from console.cli.common import Exit, UserError, async_command, config_of, out, print_json
from console.cli.output import full_records
from console.cli.render_history import render_history, rollout_json
from rollout import operations


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    with app_command(sub, "history", "an app's rollouts, newest first", run, wide=True) as p:
        p.add_argument("--limit", type=int, default=None, help="only the N newest rollouts")


@async_command
async def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    if args.limit is not None and args.limit < 1:
        raise UserError("--limit must be 1 or more")
    async with ledger_session(args, "rollouts", config=config) as (gw, _):
        found = await operations.history(gw, config, args.app, limit=args.limit)
    if not found.known:
        raise UserError(f"unknown app {args.app!r}: no rollouts, releases or server groups")
    rollouts = list(found.rollouts)
    if args.json:
        print_json({"app": args.app, "rollouts": [rollout_json(r) for r in rollouts]})
    else:
        render_history(out, args.app, rollouts, full=full_records(args))
    return Exit.OK
