"""`freshfleet localaws`: run the embedded local AWS in the foreground (ARCHITECTURE §7)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from localaws.main import add_arguments

    p = sub.add_parser(
        "localaws",
        help="run the local AWS sandbox (moto + simulated or real instances) in the foreground",
        description=(
            "Run the local AWS sandbox on 127.0.0.1: moto with instances that really boot, "
            "target health from real HTTP checks, a local load balancer per ALB, and the "
            "demo app `demo-web`. Other terminals find it through its endpoint file."
        ),
    )
    add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from localaws.main import exit_now
    from localaws.main import run as run_localaws

    exit_now(run_localaws(args))
