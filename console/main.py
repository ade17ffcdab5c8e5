"""The `freshfleet` entry point: no arguments opens the console; subcommands run headless."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

# Textual paints a changed screen on its next frame, at most `TEXTUAL_FPS` a second (read
# once, when Textual is first imported). At its default of 60 a poll's changed rows wait
# up to 16.7 ms for a frame, the whole repaint budget; at 120 at most 8.3 ms. The frame
# timer runs only while something is waiting to be painted, so an idle console costs
# the same CPU either way.
FRAMES_PER_SECOND = 120


def pace_frames() -> None:
    """Set the console's frame rate for Textual, unless the environment already chose one.

    Must run before Textual is imported: this module calls it on import, before any
    subcommand module is, and the console benchmark calls it the same way."""
    os.environ.setdefault("TEXTUAL_FPS", str(FRAMES_PER_SECOND))


pace_frames()

# Each module registers its subcommands with `register(subparsers)`; the order is the
# order of `freshfleet --help`.
COMMAND_MODULES = (
    "console.cli.console_cmd",
    "console.cli.localaws_cmd",
    "console.cli.setup_cmd",
    "console.cli.status_cmd",
    "console.cli.releases_cmd",
    "console.cli.history_cmd",
    "console.cli.logs_cmd",
    "console.cli.doctor_cmd",
    "console.cli.init_cmd",
    "console.cli.deploy_cmd",
    "console.cli.rollback_cmd",
    "console.cli.abort_cmd",
    "console.cli.resume_cmd",
    "console.cli.lock_cmd",
    "console.cli.notify_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="freshfleet",
        description="Fresh-fleet deploys on AWS: every deploy boots brand-new instances.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def quiet_sdk_logs() -> None:
    """The SDK's own warnings (with tracebacks) stay off the terminal: with no handler
    anywhere Python prints them to stderr, burying the one-line error freshfleet reports
    (e.g. a credential_process that fails logs its traceback on every refresh)."""
    for name in ("botocore", "aiobotocore"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    quiet_sdk_logs()
    parser = build_parser()
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["console", *argv]
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
