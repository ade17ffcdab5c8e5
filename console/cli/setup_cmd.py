"""`freshfleet setup`: create the ledger tables (idempotent), and the check other commands
make that they exist."""

from __future__ import annotations

import argparse

from console.cli.common import (
    Exit,
    UserError,
    add_backend_flags,
    add_output_flags,
    backend_of,
    config_of,
    out,
    print_json,
    run_async,
)
from console.plain import text
from rollout.config import Tables
from rollout.gateway import Gateway
from rollout.ledger.tables import missing_tables, setup_tables


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("setup", help="create the DynamoDB ledger tables (safe to run again)")
    add_backend_flags(p)
    add_output_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    async def main() -> int:
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

    return run_async(main)


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
