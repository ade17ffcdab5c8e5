"""`freshfleet rollback APP [--to VERSION]`: input and output around `operations.rollback`.

An unfinished rollout comes first: while its owner runs it, that process is asked to flip
traffic back to the retained group (one listener change); one nothing runs (detached, or
its owner dead) is taken over and undone. With none, the previous successful release (or
`--to VERSION`) is deployed fresh on a new server group. The estimate is printed first
(`rollback_options`).
"""

from __future__ import annotations

import argparse

from console.cli.app_command import app_command, ledger_session
from console.cli.common import Exit, async_command, out, print_json
from console.cli.deploy_cmd import Follow, answers, engine_errors, show_result
from console.cli.progress_rollout import render_request, render_result, request_json, result_json
from rollout import operations
from rollout.ledger.vocabulary import RolloutState
from rollout.operations import Act


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    rollback_help = "flip APP back during a bake, or redeploy its previous release"
    with app_command(sub, "rollback", rollback_help, run, yes=True, production=True) as p:
        p.add_argument("--to", metavar="VERSION", help="the release to deploy fresh")
        p.add_argument("--force", action="store_true", help="take the lock of a dead rollout")


@async_command
async def run(args: argparse.Namespace) -> int:
    async with ledger_session(args) as (gw, config):
        follow = Follow(args)
        ask = answers(args, "roll it back")

        def answer(q: operations.Question) -> bool:
            if q.ask is operations.Ask.TAKE_OVER:
                follow.live = False  # an undo is shown once done, not as it runs
            return ask(q)

        async with engine_errors(), follow.watching():
            outcome = await operations.rollback(
                gw,
                config,
                args.app,
                operations.Face(answer, on_start=follow.start),
                to=args.to or "",
                force=args.force,
                wait_seconds=config.rollout.gate_deadline_seconds + 120,
            )
    if outcome.act is Act.FLIP:
        done = outcome.request
        assert done is not None
        if args.json:
            print_json(request_json(done))
        else:
            render_request(out, done)
        return Exit.OK if done.state != RolloutState.RUNNING else Exit.FAILED
    if outcome.act is Act.FRESH:
        return show_result(args, outcome)
    result = outcome.result  # taken over and undone
    assert result is not None
    if args.json:
        print_json(result_json(result))
    else:
        render_result(out, result)
    return (
        Exit.OK if result.state in (RolloutState.ROLLED_BACK, RolloutState.ABORTED) else Exit.FAILED
    )
