"""`freshfleet status [APP]`: one look at the fleet (apps, groups, instances, health)."""

from __future__ import annotations

import argparse

from console.cli.app_command import ledger_session
from console.cli.common import Exit, UserError, async_command, command, out, print_json
from console.cli.output import full_records
from console.cli.render_status import render_status, status_json
from rollout.fleet.observer import FleetObserver


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    with command(
        sub, "status", "show apps, server groups, instances and their health", run, wide=True
    ) as p:
        p.add_argument("app", nargs="?", help="only this app")


@async_command
async def run(args: argparse.Namespace) -> int:
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
