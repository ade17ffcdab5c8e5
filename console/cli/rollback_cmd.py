"""`freshfleet rollback APP [--to VERSION]`.

During a rollout's bake the retained group takes the traffic back in one listener change;
with no rollout in flight, the previous successful release (or `--to VERSION`) is deployed
fresh on a new server group. Either way the estimate is printed first (`rollback_options`).
"""

from __future__ import annotations

import argparse

from console.cli.app_command import app_command, ledger_session
from console.cli.common import Exit, out, print_json, run_async
from console.cli.deploy_cmd import confirm, deploy, deploy_lock, engine_errors
from console.cli.production import confirm_production
from console.cli.progress_rollout import RolloutProgress, render_result, result_json
from console.plain import text
from rollout.lock import whoami
from rollout.rollouts import (
    find_unfinished,
    owner_alive,
    previous_release,
    request_abort,
    rollback_options,
    rollout_from_item,
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    rollback_help = "flip APP back during a bake, or redeploy its previous release"
    with app_command(sub, "rollback", rollback_help, run, yes=True, production=True) as p:
        p.add_argument("--to", metavar="VERSION", help="the release to deploy fresh")
        p.add_argument("--force", action="store_true", help="take the lock of a dead rollout")


def run(args: argparse.Namespace) -> int:
    async def main() -> int:
        async with ledger_session(args) as (gw, config):
            await confirm_production(gw, config, args, "roll it back")
            item = await find_unfinished(gw, config, args.app)
            if item is not None and not args.to:
                if item.get("state") == "running" and await owner_alive(gw, config, item):
                    # The running rollout's own process flips back at its next check.
                    if not args.json:
                        flip = (await rollback_options(gw, config, args.app)).flip_back
                        if flip.available:
                            out.print(
                                text(
                                    f"flip back to {flip.group} ({flip.release}): "
                                    f"{flip.estimate.text} ({flip.estimate.basis})"
                                )
                            )
                    confirm(args, f"Roll back {args.app} {item['rollout_id']}?")
                    async with engine_errors():
                        done = await request_abort(
                            gw,
                            config,
                            args.app,
                            by=await whoami(gw),
                            action="rollback",
                            wait_seconds=config.rollout.gate_deadline_seconds + 120,
                        )
                    if args.json:
                        print_json(
                            {
                                "app": done.app,
                                "rollout_id": done.rollout_id,
                                "state": done.state,
                                "outcome": done.outcome,
                            }
                        )
                    else:
                        out.print(
                            text(f"{done.app} {done.rollout_id}: {done.state} — {done.outcome}")
                        )
                    return Exit.OK if done.state != "running" else Exit.FAILED
                lock = deploy_lock(
                    gw, config, args.app, f"rollback {item['rollout_id']}", force=args.force
                )
                async with engine_errors(), lock:
                    confirm(args, f"Roll back {args.app} {item['rollout_id']}?")
                    rollout = await rollout_from_item(gw, config, item, lock)
                    progress = RolloutProgress(out)
                    result = await rollout.unwind(
                        f"rollback requested by {lock.owner}", aborted=True
                    )
                    for event in rollout.stream.history:
                        if not args.json:
                            progress.show(event)
                    progress.close()
                if args.json:
                    print_json(result_json(result))
                else:
                    render_result(out, result)
                return Exit.OK if result.state in ("rolled_back", "aborted") else Exit.FAILED
            async with engine_errors():
                version = args.to or await previous_release(gw, config, args.app)
            if not args.json:
                options = await rollback_options(gw, config, args.app)
                out.print(text(f"fresh deploy of {version}: {options.eta_text(version)}"))
            return await deploy(
                gw, config, args, args.app, version, message=f"rollback to {version}"
            )

    return run_async(main)
