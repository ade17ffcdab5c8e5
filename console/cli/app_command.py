"""The two halves most commands share: the parser of a command on one APP, and the session
a command works in (its configuration, a gateway on its backend, the ledger tables it needs).
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from console.cli.common import backend_of, command, config_of
from console.cli.setup_cmd import require_tables
from rollout.aws.gateway import Gateway
from rollout.config import Config

# `with app_command(sub, name, help, run, ...) as p:` adds subcommand `name APP`: the APP
# argument first, then the command's own, then common.command's flags (yes, wide, production).
app_command = functools.partial(command, app=True)


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
