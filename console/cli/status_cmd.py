"""`freshfleet status [APP]`: one look at the fleet (apps, groups, instances, health)."""

from __future__ import annotations

import argparse

from console.cli.app_command import ledger_session
from console.cli.common import (
    Exit,
    UserError,
    add_backend_flags,
    add_output_flags,
    out,
    print_json,
    run_async,
)
from console.cli.output import add_wide_flag, full_records
from console.cli.render_status import render_status, status_json
from rollout.observer import FleetObserver


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("status", help="show apps, server groups, instances and their health")
    p.add_argument("app", nargs="?", help="only this app")
    add_backend_flags(p)
    add_output_flags(p)
    add_wide_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    async def main() -> int:
        async with ledger_session(args) as (gw, config):
            snapshot, _ = await FleetObserver(gw, config.tables).tick()
        apps = list(snapshot.apps)
        if args.app:
            app = snapshot.app(args.app)
            if app is None:
                known = ", ".join(a.name for a in apps) or "none"
                raise UserError(f"unknown app {args.app!r} (apps found: {known})")
            apps = [app]
        if args.json:
            print_json(status_json(snapshot, apps))
        else:
            render_status(out, snapshot, apps, full=full_records(args))
        return Exit.OK

    return run_async(main)
