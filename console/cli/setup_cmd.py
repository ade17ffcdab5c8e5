"""`freshfleet setup`: create the ledger tables (idempotent), and the check other commands
make that they exist."""

from __future__ import annotations

import argparse

from console.cli.common import (
    Exit,
    UserError,
    async_command,
    backend_of,
    command,
    config_of,
    out,
    print_json,
)
from console.plain import text
from rollout.aws.gateway import Gateway
from rollout.config import Tables
from rollout.ledger.tables import missing_tables, setup_tables


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    with command(sub, "setup", "create the DynamoDB ledger tables (safe to run again)", run):
        pass  # no arguments of its own


@async_command
async def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    backend = backend_of(args)
    async with Gateway(backend) as gw:
        results = await setup_tables(gw, config.tables)
    if args.json:
        print_json(
            {
                "backend": backend.label,
                "tables": [{"name": r.name, "created": r.created} for r in results],
            }
        )
        return Exit.OK
    for r in results:
        what = ("created", "green") if r.created else ("exists", "dim")
        out.print(text(what, f"  {r.name}"))
    out.print(text(f"ledger ready on {backend.label}"))
    return Exit.OK


async def require_tables(gateway: Gateway, tables: Tables, *names: str) -> None:
    """UserError (exit 4) naming the missing ledger tables and `freshfleet setup` as the fix.

    With `names`, only those tables are required; otherwise all four.
    """
    missing = await missing_tables(gateway, tables)
    if names:
        missing = [m for m in missing if m in names]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise UserError(
            f"ledger table{plural} missing: {', '.join(missing)} — run `freshfleet setup` first",
            code=Exit.AWS,
        )
