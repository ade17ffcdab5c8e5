"""`freshfleet lock APP -m MSG` and `freshfleet unlock APP [--force]`: hold deploys off by hand."""

from __future__ import annotations

import argparse
import math
import time
from datetime import UTC, datetime, timedelta

from console.cli.app_command import app_command, ledger_session
from console.cli.common import Exit, UserError, out, print_json, run_async
from console.plain import text
from rollout.ledger.locks import delete_lock, put_lock, read_lock
from rollout.lock import LockHeld, caller_arn, force_unlock, lock_owner
from rollout.model import LockInfo


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    lock_help = "hold APP's deploy lock by hand (no deploys until unlock)"
    with app_command(sub, "lock", lock_help, run_lock) as p:
        p.add_argument("-m", "--message", required=True, help="why, shown to whoever is refused")
        p.add_argument(
            "--hours", type=hours, default=24.0, help="how long the lock lasts (default 24)"
        )
    with app_command(sub, "unlock", "release APP's deploy lock", run_unlock) as u:
        u.add_argument("--force", action="store_true", help="release another owner's lock")


MAX_HOURS = 24 * 366  # a year: beyond that, `unlock` is the way


def hours(text: str) -> float:
    """`--hours`: a positive, finite number of hours (at most MAX_HOURS); argparse refuses
    anything else (`nan`, `inf`, `0`, `-1` would make a lock that never or always expired)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hours") from None
    if not math.isfinite(value) or value <= 0 or value > MAX_HOURS:
        raise argparse.ArgumentTypeError(
            f"{text!r}: the lock lasts a positive number of hours, at most {MAX_HOURS}"
        )
    return value


def _same_person(owner: str, me: str) -> bool:
    """`user@host` matches: a manual lock outlives the process that took it."""
    return owner.rpartition(":")[0] == me.rpartition(":")[0]


def _lock_json(info: LockInfo | None) -> dict[str, object] | None:
    if info is None:
        return None
    return {
        "app": info.app,
        "owner": info.owner,
        "acquired_at": info.acquired_at.isoformat(),
        "expires_at": info.expires_at.isoformat(),
        "message": info.message,
    }


def run_lock(args: argparse.Namespace) -> int:
    async def main() -> int:
        async with ledger_session(args) as (gw, config):
            now = datetime.fromtimestamp(int(time.time()), UTC)
            info = LockInfo(
                app=args.app,
                owner=lock_owner(),
                acquired_at=now,
                expires_at=now + timedelta(hours=args.hours),
                message=args.message,
                caller_arn=await caller_arn(gw),
            )
            if not await put_lock(gw, config.tables.locks, info, now=time.time()):
                held = await read_lock(gw, config.tables.locks, args.app)
                raise UserError(str(LockHeld(held or info)), code=Exit.LOCKED)
        if args.json:
            print_json(_lock_json(info))
        else:
            until = f"{info.expires_at:%Y-%m-%d %H:%M}"
            out.print(text(f"{args.app} locked until {until} UTC: {args.message}"))
        return Exit.OK

    return run_async(main)


def run_unlock(args: argparse.Namespace) -> int:
    async def main() -> int:
        me = lock_owner()
        async with ledger_session(args) as (gw, config):
            held = await read_lock(gw, config.tables.locks, args.app)
            if held is None:
                out.print(text(f"{args.app} is not locked"))
                return Exit.OK
            if _same_person(held.owner, me):
                await delete_lock(gw, config.tables.locks, args.app, held.owner)
            elif args.force:
                await force_unlock(
                    gw, config.tables.locks, args.app, by=me, audit_table=config.tables.rollouts
                )
            elif held.expires_at.timestamp() > time.time():
                raise UserError(f"{LockHeld(held)} — pass --force to take it", code=Exit.LOCKED)
            else:
                await delete_lock(gw, config.tables.locks, args.app, held.owner)
        if args.json:
            print_json({"unlocked": _lock_json(held)})
        else:
            out.print(text(f"{args.app} unlocked (was held by {held.owner})"))
        return Exit.OK

    return run_async(main)
