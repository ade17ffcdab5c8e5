"""`freshfleet lock APP -m MSG` and `freshfleet unlock APP [--force]`: hold deploys off by hand."""

from __future__ import annotations

import argparse
import math

from console.cli.app_command import app_command, ledger_session
from console.cli.common import Exit, UserError, async_command, out, print_json
from console.plain import text
from rollout.ledger.lease import (
    MANUAL,
    DeployLock,
    LockHeld,
    force_unlock,
    judge_stale,
    same_principal,
    whoami,
)
from rollout.ledger.locks import delete_if_unchanged, read_lock
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


@async_command
async def run_lock(args: argparse.Namespace) -> int:
    async with ledger_session(args) as (gw, config):
        hold = DeployLock(
            gw,
            config.tables.locks,
            args.app,
            config.rollout,
            message=args.message,
            audit_table=config.tables.rollouts,
            hold_seconds=args.hours * 3600,
        )
        try:
            info = await hold.acquire()
        except LockHeld as exc:
            raise UserError(str(exc), code=Exit.LOCKED) from exc
    if args.json:
        print_json(_lock_json(info))
    else:
        until = f"{info.expires_at:%Y-%m-%d %H:%M}"
        out.print(text(f"{args.app} locked until {until} UTC: {args.message}"))
    return Exit.OK


@async_command
async def run_unlock(args: argparse.Namespace) -> int:
    """Free a hand lock of this caller's (same ARN, same host) or a lock nobody keeps any
    more; a live lease of anyone else's — a running deploy's above all, whoever runs it —
    only with --force, recorded as a takeover."""
    async with ledger_session(args) as (gw, config):
        me = await whoami(gw)
        table = config.tables.locks
        held = await read_lock(gw, table, args.app)
        if held is None:
            out.print(text(f"{args.app} is not locked"))
            return Exit.OK
        if args.force:
            held = await force_unlock(
                gw, table, args.app, by=me, audit_table=config.tables.rollouts
            )
        else:
            mine = held.kind == MANUAL and same_principal(held.owner, me)
            lease = config.rollout.lock_lease_seconds
            if not mine and not await judge_stale(gw, table, held, lease):
                what = "a running deploy's lease" if held.kind != MANUAL else "a hand lock"
                raise UserError(
                    f"{LockHeld(held)}: {what}, released only by its holder — "
                    f"pass --force to take it from {held.owner} (recorded)",
                    code=Exit.LOCKED,
                )
            if not await delete_if_unchanged(gw, table, held):
                raise UserError(
                    f"{args.app}'s lock changed while we looked; run unlock again",
                    code=Exit.LOCKED,
                )
    if args.json:
        print_json({"unlocked": _lock_json(held)})
    else:
        out.print(text(f"{args.app} unlocked (was held by {held.owner if held else 'nobody'})"))
    return Exit.OK
