"""`freshfleet doctor [--app APP]`: one line per check, green or red with the fix.

Exit codes: 0 when no check is red; 4 when a red check is AWS's or the credentials'
(credentials, region, clock, permissions, an AWS error); 1 when only the setup is
incomplete (a missing table, launch template, listener, ...).
"""

from __future__ import annotations

import argparse

from console.cli.common import Exit, async_command, backend_of, command, config_of, out, print_json
from console.cli.output import full_records, print_line
from console.plain import escaped
from rollout.aws.gateway import Gateway
from rollout.readiness.doctor import ROLES, DoctorReport, Verdict, run_doctor

_MARKS = {
    Verdict.OK: "[green]✓[/]",
    Verdict.WARN: "[yellow]![/]",
    Verdict.FAIL: "[red]✗[/]",
    Verdict.UNAVAILABLE: "[dim]–[/]",
    Verdict.SKIPPED: "[dim]·[/]",
}


_HELP = "check credentials, region, tables, an app's resources and permissions"
_DESCRIPTION = (
    "Check that this account (and an app) is ready for freshfleet. "
    "Exit 0 when all checks pass, 4 when an AWS or credentials check fails, "
    "1 when only the setup is incomplete."
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    with command(sub, "doctor", _HELP, run, description=_DESCRIPTION, wide=True) as p:
        p.add_argument("--app", help="also check this app's launch template, listener and fleet")
        p.add_argument(
            "--role",
            choices=ROLES,
            default="deployer",
            help="the policy (iam/ROLE.json) whose permissions the caller should have",
        )
        p.add_argument(
            "--timeout", type=float, default=3.0, help="seconds for each URL check (default 3)"
        )


def exit_code(report: DoctorReport) -> int:
    """0 when green; 4 when an AWS/credentials check is red; 1 otherwise."""
    if report.green:
        return Exit.OK
    return Exit.AWS if report.aws_failed else Exit.FAILED


def render(report: DoctorReport, *, full: bool = False) -> None:
    """One line per check, its fix below it; `full` (piped or `--wide`): each check on one
    line with its fix at the end, never wrapped (ARNs are grepped whole)."""
    width = max((len(c.name) for c in report.checks), default=10)
    for check in report.checks:
        name = escaped(check.name).ljust(width)
        line = f"{_MARKS[check.verdict]} {name}  {escaped(check.detail)}"
        if check.verdict is Verdict.UNAVAILABLE:
            line += " [dim](unavailable)[/]"
        fix = ""
        if check.fix and check.verdict in (Verdict.FAIL, Verdict.WARN):
            colour = "red" if check.verdict is Verdict.FAIL else "yellow"
            fix = f"[{colour}]fix:[/] {escaped(check.fix)}"
        if full:
            print_line(out, f"{line}  {fix}" if fix else line, full=True)
            continue
        out.print(line)
        if fix:
            out.print(f"  {' ' * width}  {fix}")
    failed = len(report.failed)
    out.print(
        "[green]all checks passed[/]"
        if report.green
        else f"[red]{failed} check{'s' if failed != 1 else ''} failed[/]"
    )


@async_command
async def run(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    config = config_of(args)
    async with Gateway(backend) as gw:
        report = await run_doctor(
            gw, config.tables, app=args.app, role=args.role, http_timeout=args.timeout
        )
    if args.json:
        print_json({**report.as_dict(), "backend": backend.label})
    else:
        full = full_records(args)
        print_line(out, f"[bold]freshfleet doctor[/] — {escaped(backend.label)}", full=full)
        render(report, full=full)
    return exit_code(report)
