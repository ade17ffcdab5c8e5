"""Production accounts ask twice on the command line too (ARCHITECTURE §2): a command that
changes a fleet on an account listed in `production_accounts` goes ahead only once the app's
name is typed on a terminal, or with `--yes-production APP` in a script (`-y` alone is not
enough: it answers the ordinary question, not this one)."""

from __future__ import annotations

import argparse
import sys

from rich.prompt import Prompt

from console.cli.common import UserError, out
from console.plain import text


def add_production_flag(parser: argparse.ArgumentParser) -> None:
    """`--yes-production APP`: on a production account, go ahead without typing APP."""
    parser.add_argument(
        "--yes-production",
        metavar="APP",
        default="",
        help="on a production account, go ahead without typing the app's name (scripts)",
    )


def production_gate(args: argparse.Namespace, account: str, action: str) -> None:
    """The answer to an operation's production question (`account` is listed in
    `production_accounts`): return when `--yes-production` names `args.app` or the app's
    name is typed on a terminal; UserError (exit 2) otherwise, before anything is changed."""
    app = str(args.app)
    named = str(getattr(args, "yes_production", "") or "")
    if named:
        if named != app:
            raise UserError(f"--yes-production names {named!r}, not {app!r}: nothing was done")
        return
    if not sys.stdin.isatty():
        raise UserError(
            f"{app} is on production account {account}: pass --yes-production {app} to "
            f"{action} without a terminal to type its name on"
        )
    question = text(
        ("PRODUCTION", "bold red"), f" account {account}: type ", (app, "bold"), f" to {action}"
    )
    typed = Prompt.ask(
        question,
        console=out,
        default="",
        show_default=False,
    )
    if typed.strip() != app:
        raise UserError(f"{typed.strip()!r} is not {app!r}: nothing was done")
