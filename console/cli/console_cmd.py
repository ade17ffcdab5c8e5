"""`freshfleet [console]`: open the Textual console."""

from __future__ import annotations

import argparse

from console.cli.common import add_backend_flags


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("console", help="open the console (the default)")
    add_backend_flags(p)
    p.add_argument("--read-only", action="store_true", help="remove every mutating action")
    p.add_argument("--allow-deploy", action="store_true", help="allow deploys on production")
    p.add_argument(
        "--boot",
        choices=("auto", "real", "simulated"),
        default="auto",
        help="boot mode of the embedded localaws, when one is started",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from console.backend_choice import run_console

    return run_console(args)
