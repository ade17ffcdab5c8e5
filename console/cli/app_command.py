"""The two halves most commands share: the parser of a command on one APP, and the session
a command works in (its configuration, a gateway on its backend, the ledger tables it needs).
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

from console.cli.common import backend_of, command, config_of
from console.cli.setup_cmd import require_tables
from rollout.config import Config
from rollout.gateway import Gateway


@contextmanager
def app_command(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    help: str,
    run: Callable[[argparse.Namespace], int],
    *,
    yes: bool = False,
    wide: bool = False,
    production: bool = False,
) -> Iterator[argparse.ArgumentParser]:
    """Add subcommand `name APP`: yields its parser for the command's own arguments, then
    adds the backend flags, `--json` (and `-y` with `yes`, `--wide` with `wide`,
    `--yes-production APP` with `production`) after them and routes it to `run`.
    """
    with command(sub, name, help, run, yes=yes, wide=wide) as p:
        p.add_argument("app")
        yield p
    if production:
        from console.cli.production import add_production_flag

        add_production_flag(p)


@asynccontextmanager
async def ledger_session(
    args: argparse.Namespace, *tables: str, config: Config | None = None
) -> AsyncIterator[tuple[Gateway, Config]]:
    """An open gateway on the flags' backend and the command's configuration, once the
    ledger tables exist: all four, or only those named (`"rollouts"`, `"releases"`, ...).

    The configuration is loaded first (or `config` is used as given), then the backend is
    found, so a bad configuration is reported before a missing backend.
    """
    if config is None:
        config = config_of(args)
    async with Gateway(backend_of(args)) as gw:
        await require_tables(gw, config.tables, *(getattr(config.tables, t) for t in tables))
        yield gw, config
