"""What every command shares: exit codes, its parser's common flags, config loading, error
handling."""

from __future__ import annotations

import argparse
import asyncio
import enum
import functools
import json
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console

from console.cli.output import add_wide_flag
from console.plain import text
from rollout.aws.backend import Backend, NoBackendError, discover_backend, require_backend
from rollout.aws.gateway import AwsError
from rollout.config import Config, ConfigError, load_config


class Exit(enum.IntEnum):
    """Exit codes (ARCHITECTURE §5)."""

    OK = 0
    FAILED = 1  # rollout failed or rolled back
    BAD_INPUT = 2
    LOCKED = 3  # lock held by another
    AWS = 4  # AWS or credentials error
    INTERRUPTED = 130


class UserError(Exception):
    """Bad input: the message is shown as is and the exit code is 2 (or `code`)."""

    def __init__(self, message: str, code: Exit = Exit.BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def add_backend_flags(parser: argparse.ArgumentParser) -> None:
    """--endpoint-url/--profile/--region/--aws and --config, as every AWS-facing command has."""
    g = parser.add_argument_group("backend")
    g.add_argument("--endpoint-url", metavar="URL", help="send every AWS call to this endpoint")
    g.add_argument("--profile", help="AWS profile (real AWS)")
    g.add_argument("--region", help="AWS region (real AWS)")
    g.add_argument("--aws", action="store_true", help="use real AWS with the default chain")
    g.add_argument("--config", metavar="FILE", help="configuration file (default: freshfleet.toml)")


def add_output_flags(parser: argparse.ArgumentParser, *, yes: bool = False) -> None:
    """--json (and -y/--yes with `yes`)."""
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    if yes:
        parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")


@contextmanager
def command(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    help: str,
    run: Callable[[argparse.Namespace], int],
    *,
    description: str | None = None,
    app: bool = False,
    yes: bool = False,
    wide: bool = False,
    production: bool = False,
    insecure_url: bool = False,
) -> Iterator[argparse.ArgumentParser]:
    """Add subcommand `name` (`name APP` with `app`): yields its parser for the command's own
    arguments, then adds `--allow-insecure-url` with `insecure_url` (a command that takes or
    records a release's URL), the backend flags and `--json` (and `-y` with `yes`, `--wide`
    with `wide`, `--yes-production APP` with `production`) after them, so `--help` lists the
    command's own first, and routes the command to `run`."""
    p = sub.add_parser(name, help=help, description=description)
    if app:
        p.add_argument("app")
    yield p
    if insecure_url:
        p.add_argument(
            "--allow-insecure-url",
            action="store_true",
            help="accept an http:// release URL (loopback hosts need no flag)",
        )
    add_backend_flags(p)
    add_output_flags(p, yes=yes)
    if wide:
        add_wide_flag(p)
    if production:
        from console.cli.production import add_production_flag  # it imports this module

        add_production_flag(p)
    p.set_defaults(func=run)


def backend_of(args: argparse.Namespace) -> Backend:
    """The backend the flags name, or a running localaws; never starts one (ARCHITECTURE §2)."""
    return require_backend(
        endpoint_url=getattr(args, "endpoint_url", None),
        profile=getattr(args, "profile", None),
        region=getattr(args, "region", None),
        aws=bool(getattr(args, "aws", False)),
    )


def config_of(args: argparse.Namespace, *, local: bool | None = None, **overrides: Any) -> Config:
    """The configuration for this command; on the local sandbox, the demo's short timers.

    `local=None` asks backend discovery (without failing) whether the flags or a running
    localaws point at the sandbox.
    """
    from pathlib import Path

    if local is None:
        found = discover_backend(
            endpoint_url=getattr(args, "endpoint_url", None),
            profile=getattr(args, "profile", None),
            region=getattr(args, "region", None),
            aws=bool(getattr(args, "aws", False)),
        )
        local = found is not None and found.local
    path = getattr(args, "config", None)
    return load_config(Path(path) if path else None, overrides=overrides, demo=local)


def print_json(value: Any) -> None:
    """JSON on stdout, nothing else (so `--json` output is always parseable)."""
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")
    sys.stdout.flush()


def async_command(
    main: Callable[[argparse.Namespace], Awaitable[int]],
) -> Callable[[argparse.Namespace], int]:
    """A command's `run(args)` whose work is the coroutine `main(args)`, run by run_async
    (so its failures become the exit codes of ARCHITECTURE §5)."""

    @functools.wraps(main)
    def run(args: argparse.Namespace) -> int:
        return run_async(lambda: main(args))

    return run


# The failures a command ends in besides its own bad input (UserError): the word shown before
# the message and the exit code (ARCHITECTURE §5).
_FAILURES: dict[type[Exception], tuple[str, Exit]] = {
    ConfigError: ("config error:", Exit.BAD_INPUT),
    NoBackendError: ("error:", Exit.AWS),
    AwsError: ("AWS error:", Exit.AWS),
}


def run_async(main: Callable[[], Awaitable[int]]) -> int:
    """Run a command's coroutine and map failures to ARCHITECTURE §5's exit codes."""
    try:
        return asyncio.run(main())  # type: ignore[arg-type]
    except KeyboardInterrupt:
        err.print(text(("interrupted", "yellow")))
        return Exit.INTERRUPTED
    except UserError as exc:
        err.print(text(("error:", "red"), f" {exc}"))
        return exc.code
    except tuple(_FAILURES) as exc:
        label, code = next(_FAILURES[k] for k in type(exc).__mro__ if k in _FAILURES)
        err.print(text((label, "red"), f" {exc}"))
        return code
