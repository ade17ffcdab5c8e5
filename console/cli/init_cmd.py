"""`freshfleet init APP`: show what the app needs in this VPC, ask, then create it.

Creates only what is missing (a second run creates nothing); `--dry-run` shows the plan
and stops; `-y` does not ask.
"""

from __future__ import annotations

import argparse
import sys

from console.cli.common import (
    Exit,
    UserError,
    async_command,
    backend_of,
    command,
    err,
    out,
    print_json,
)
from console.plain import escaped
from rollout.aws.gateway import Gateway
from rollout.readiness.init_app import InitError, InitOptions, InitPlan, apply_init, plan_init

_HELP = "create an app's security groups, load balancer/listener and launch template"
_DESCRIPTION = (
    "Set up the stable parts of an app in a VPC: security groups, an ALB "
    "and listener (or a listener rule on --alb), and the launch template "
    "freshfleet-APP (IMDSv2 required). Idempotent."
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    with command(sub, "init", _HELP, run, description=_DESCRIPTION, yes=True) as p:
        p.add_argument("app", help="the app's name (lower-case letters, digits, hyphens)")
        p.add_argument("--image-id", default="", help="the base image (AMI) of the instances")
        p.add_argument("--instance-type", default="t3.small", help="default t3.small")
        p.add_argument(
            "--instance-profile",
            default="",
            metavar="NAME",
            help="the instances' IAM instance profile (a role from iam/instance-role.json)",
        )
        p.add_argument("--vpc", default="", help="the VPC (default: the default VPC)")
        p.add_argument(
            "--subnet",
            action="append",
            default=[],
            metavar="ID",
            help="a subnet for the ALB and the instances (repeat; default: one per zone)",
        )
        p.add_argument(
            "--instance-subnet",
            action="append",
            default=[],
            metavar="ID",
            help="a subnet for the instances alone (repeat; default: the ALB's); it needs a route "
            "to S3 and DynamoDB: a NAT gateway or VPC endpoints (`freshfleet doctor` checks)",
        )
        p.add_argument("--alb", default="", metavar="ARN", help="add a listener rule on this ALB")
        p.add_argument("--host", default="", help="the rule's host header (with --alb)")
        p.add_argument("--path", default="", help="the rule's path pattern (with --alb)")
        p.add_argument("--listener-port", type=int, default=80, help="default 80")
        p.add_argument("--port", type=int, default=8080, help="the app's port on the instances")
        p.add_argument("--internal", action="store_true", help="an internal ALB")
        p.add_argument("--dry-run", action="store_true", help="show the plan, create nothing")


def options_of(args: argparse.Namespace) -> InitOptions:
    return InitOptions(
        app=args.app,
        image_id=args.image_id,
        instance_type=args.instance_type,
        instance_profile=args.instance_profile,
        vpc_id=args.vpc,
        subnet_ids=tuple(args.subnet),
        instance_subnet_ids=tuple(args.instance_subnet),
        alb_arn=args.alb,
        host_header=args.host,
        path_pattern=args.path,
        listener_port=args.listener_port,
        app_port=args.port,
        internal=args.internal,
    )


def render(plan: InitPlan, *, done: bool = False) -> None:
    out.print(
        f"app [bold]{escaped(plan.options.app)}[/] in {escaped(plan.vpc_id)} "
        f"(subnets {escaped(', '.join(plan.subnet_ids))})"
    )
    for step in plan.steps:
        if step.exists:
            mark, state = "[dim]=[/]", f"[dim]exists {escaped(step.resource_id)}[/]"
        elif step.created:
            mark, state = "[green]+[/]", f"[green]created {escaped(step.resource_id)}[/]"
        else:
            mark, state = "[yellow]+[/]", "[yellow]to create[/]"
        name = f"[bold]{escaped(step.name)}[/]"
        out.print(f"{mark} {step.kind} {name}: {escaped(step.detail)}  {state}")
    if plan.shared_alb_tag and not done:
        out.print(f"[yellow]~[/] tag the shared ALB freshfleet:app={escaped(plan.options.app)}")


@async_command
async def run(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    async with Gateway(backend) as gw:
        try:
            plan = await plan_init(gw, options_of(args))
        except InitError as exc:
            raise UserError(str(exc)) from exc
        nothing = not plan.to_create and not plan.shared_alb_tag
        if args.dry_run or nothing:
            if args.json:
                print_json({**plan.as_dict(), "dry_run": args.dry_run, "created": []})
            else:
                out.print(f"[bold]freshfleet init[/] — {escaped(backend.label)}")
                render(plan)
                out.print(
                    "[green]nothing to create[/]" if nothing else "[dim]dry run: nothing created[/]"
                )
            return Exit.OK
        if not args.json:
            out.print(f"[bold]freshfleet init[/] — {escaped(backend.label)}")
            render(plan)
        if not args.yes and not _confirm(len(plan.to_create)):
            err.print("[yellow]nothing created[/]")
            return Exit.BAD_INPUT
        done = await apply_init(gw, plan)
    if args.json:
        created = [s.as_dict() for s in done.steps if s.created]
        print_json({**done.as_dict(), "dry_run": False, "created": created})
    else:
        out.print("")
        render(done, done=True)
        out.print(
            f"[green]done.[/] Next: `freshfleet release add {args.app} VERSION ...`, "
            f"then `freshfleet deploy {args.app} VERSION --capacity 2`"
        )
    return Exit.OK


def _confirm(count: int) -> bool:
    if not sys.stdin.isatty():
        raise UserError("not a terminal: pass -y to create without asking (or --dry-run)")
    answer = input(f"Create {count} resource{'s' if count != 1 else ''}? [y/N] ")
    return answer.strip().lower() in ("y", "yes")
