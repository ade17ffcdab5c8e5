"""`freshfleet abort APP`: ask the app's running rollout, wherever it runs, to stop."""

from __future__ import annotations

import argparse

from console.cli.app_command import app_command
from console.cli.common import Exit, async_command, backend_of, config_of, out, print_json
from console.cli.deploy_cmd import answers, engine_errors
from console.cli.progress_rollout import render_request, request_json
from console.plain import text
from rollout import operations
from rollout.aws.gateway import Gateway
from rollout.ledger.vocabulary import RolloutState


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    abort_help = "stop APP's running rollout (its new group is deleted)"
    with app_command(sub, "abort", abort_help, run, production=True) as p:
        p.add_argument("--no-wait", action="store_true", help="return once the request is written")


@async_command
async def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    wait = 0.0 if args.no_wait else config.rollout.gate_deadline_seconds + 120
    async with Gateway(backend_of(args)) as gw, engine_errors():
        face = operations.Face(answers(args, "abort its rollout"))
        outcome = await operations.abort(gw, config, args.app, face, wait_seconds=wait)
    done = outcome.request
    assert done is not None
    if args.json:
        print_json({**request_json(done), "reason": done.reason})
    elif done.state == RolloutState.RUNNING:
        out.print(
            text(f"abort requested on {done.app} {done.rollout_id}; it stops at its next check")
        )
    else:
        render_request(out, done)
    return Exit.OK
