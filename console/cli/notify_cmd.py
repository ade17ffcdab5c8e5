"""`freshfleet notify test APP`: send a test message through every notifier of APP."""

from __future__ import annotations

import argparse

from console.cli.common import Exit, async_command, backend_of, command, config_of, out, print_json
from console.cli.deploy_cmd import engine_errors
from console.plain import text
from rollout.aws.gateway import Gateway
from rollout.notify.relay import send_test


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("notify", help="rollout notifications ([[notify]] in the config)")
    inner = p.add_subparsers(dest="notify_command", required=True, metavar="test")
    with command(inner, "test", "send a test message through every notifier of APP", run) as t:
        t.add_argument("app")


@async_command
async def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    async with Gateway(backend_of(args)) as gw, engine_errors():
        results = await send_test(gw, config.notify, args.app)
    if args.json:
        print_json([r.as_item() for r in results])
    elif not results:
        out.print(text(f"{args.app} has no notifier: add a [[notify]] table to the config"))
    else:
        for r in results:
            mark = ("ok", "green") if r.ok else ("FAILED", "red")
            line = f" {r.notifier}: {r.detail} (attempts: {r.attempts})"
            out.print(text(mark, line), highlight=False)
    if not results:
        return Exit.BAD_INPUT
    return Exit.OK if all(r.ok for r in results) else Exit.FAILED
