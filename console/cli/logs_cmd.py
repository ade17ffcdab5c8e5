"""`freshfleet logs INSTANCE [-f]`: an instance's console output; `-f` prints new lines."""

from __future__ import annotations

import argparse
import contextlib
import re
import sys

from console.cli.common import (
    Exit,
    UserError,
    add_backend_flags,
    async_command,
    backend_of,
)
from console.plain import plain
from rollout.aws.gateway import Gateway
from rollout.fleet.console_output import InstanceNotFound, follow_console

_INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("logs", help="an instance's console output (boot phases included)")
    p.add_argument("instance", metavar="INSTANCE", help="the instance id (i-...)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.add_argument(
        "--interval", type=float, default=2.0, help="seconds between polls with -f (default 2)"
    )
    add_backend_flags(p)
    p.set_defaults(func=run)


@async_command
async def run(args: argparse.Namespace) -> int:
    if not _INSTANCE_ID.match(args.instance):
        raise UserError(f"{args.instance!r} is not an instance id (i-0123456789abcdef0)")
    if args.interval <= 0:
        raise UserError("--interval must be positive")
    async with Gateway(backend_of(args)) as gw:
        try:
            async for line in follow_console(
                gw, args.instance, interval=args.interval, follow=args.follow
            ):
                # Plain writes (no markup), control characters shown, never sent raw.
                sys.stdout.write(plain(line) + "\n")
                sys.stdout.flush()
        except InstanceNotFound as exc:
            raise UserError(str(exc)) from exc
        except BrokenPipeError:  # `freshfleet logs ID -f | head`: the reader left
            with contextlib.suppress(OSError):
                sys.stdout.close()
    return Exit.OK
