"""`freshfleet status`: the fleet as rich tables, and as the JSON the README documents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Console
from rich.text import Text

from console.cli.output import Column, print_line, print_table
from console.plain import text
from rollout.model import App, FleetSnapshot, GroupRole, Instance, ServerGroup

_ROLE_STYLE = {
    GroupRole.SERVING: "bold green",
    GroupRole.LAUNCHING: "cyan",
    GroupRole.RETAINED: "yellow",
    GroupRole.RETIRING: "magenta",
    GroupRole.IDLE: "dim",
}
_HEALTH_STYLE = {"healthy": "green", "unhealthy": "red", "initial": "yellow", "draining": "blue"}


def _time(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def instance_json(i: Instance) -> dict[str, Any]:
    return {
        "id": i.instance_id,
        "state": i.state.value,
        "health": i.health.state.value if i.health else None,
        "health_reason": (i.health.reason or i.health.description) if i.health else "",
        "boot": {
            "phase": i.boot.phase.value,
            "status": i.boot.status.value,
            "at": _time(i.boot.at),
            "detail": i.boot.detail,
        }
        if i.boot
        else None,
        "release": i.release,
        "az": i.az,
        "private_ip": i.private_ip,
        "launched_at": _time(i.launched_at),
    }


def group_json(snapshot: FleetSnapshot, g: ServerGroup) -> dict[str, Any]:
    instances = snapshot.instances_of(g)
    return {
        "name": g.name,
        "release": g.release,
        "rollout_id": g.rollout_id,
        "role": g.role.value,
        "weight": g.weight,
        "desired": g.capacity.desired,
        "min": g.capacity.min_size,
        "max": g.capacity.max_size,
        "target_group_arn": g.target_group_arn,
        "healthy": sum(1 for i in instances if i.health and i.health.healthy),
        "instances": [instance_json(i) for i in instances],
    }


def app_json(snapshot: FleetSnapshot, app: App) -> dict[str, Any]:
    groups = [group_json(snapshot, g) for g in app.groups]
    serving = [g for g in groups if g["role"] == GroupRole.SERVING.value]
    return {
        "name": app.name,
        "serving_release": app.serving_release or None,
        "load_balancer_url": app.load_balancer_url or None,
        "listener_arn": app.listener_arn or None,
        "rule_arn": app.rule_arn or None,
        "healthy": sum(g["healthy"] for g in serving),
        "desired": sum(g["desired"] for g in serving),
        "active_rollout": app.active_rollout_id or None,
        "lock": {
            "owner": app.lock.owner,
            "acquired_at": _time(app.lock.acquired_at),
            "expires_at": _time(app.lock.expires_at),
            "message": app.lock.message,
        }
        if app.lock
        else None,
        "groups": groups,
    }


def status_json(snapshot: FleetSnapshot, apps: list[App]) -> dict[str, Any]:
    return {
        "backend": snapshot.backend,
        "taken_at": _time(snapshot.taken_at),
        "warnings": list(snapshot.warnings),
        "apps": [app_json(snapshot, a) for a in apps],
    }


_COLUMNS = tuple(
    Column(c) for c in ("group", "release", "role", "weight", "instance", "state", "health", "boot")
)


def render_status(
    out: Console, snapshot: FleetSnapshot, apps: list[App], *, full: bool = False
) -> None:
    """The backend, the snapshot's warnings and each app's table (`full`: one instance a
    line with its group's cells repeated, every value in full; see console.cli.output)."""
    out.print(text(("backend: ", "dim"), (snapshot.backend, "bold")))
    for warning in snapshot.warnings:
        print_line(out, text(("warning:", "yellow"), f" {warning}"), full=full)
    if not apps:
        out.print("no apps found (an app is an ASG tagged freshfleet:app; try `freshfleet init`)")
    for app in apps:
        render_app(out, snapshot, app, full=full)


def render_app(out: Console, snapshot: FleetSnapshot, app: App, *, full: bool = False) -> None:
    """The app's headline, lock and rollout, and its groups' instances as a table."""
    data = app_json(snapshot, app)
    title = text(
        (app.name, "bold"),
        "  serving ",
        (app.serving_release or "nothing", "bold green" if app.serving_release else "red"),
        f"  {data['healthy']}/{data['desired']} healthy",
        ("  " + app.load_balancer_url) if app.load_balancer_url else "",
    )
    out.print()
    print_line(out, title, full=full)
    if app.lock:
        note = f" — {app.lock.message}" if app.lock.message else ""
        since = f"{app.lock.acquired_at:%H:%M:%S}"
        lock_line = text("  ", ("locked", "yellow"), f" by {app.lock.owner} since {since}{note}")
        print_line(out, lock_line, full=full)
    if app.active_rollout_id:
        rollout_line = text("  rollout ", (app.active_rollout_id, "cyan"), " in progress")
        print_line(out, rollout_line, full=full)
    rows: list[tuple[str | Text, ...]] = []
    for g in app.groups:
        instances = snapshot.instances_of(g)
        head: tuple[Text | str, ...] = (
            text(g.name, one_line=True),
            text(g.release, one_line=True),
            Text(g.role.value, _ROLE_STYLE[g.role]),
            str(g.weight),
        )
        if not instances:
            rows.append((*head, "—", "", "", ""))
        for n, i in enumerate(instances):
            cells = head if n == 0 or full else ("", "", "", "")
            health = i.health.state.value if i.health else "—"
            boot = f"{i.boot.phase.value} {i.boot.status.value}" if i.boot else ""
            rows.append(
                (
                    *cells,
                    text(i.instance_id, one_line=True),
                    text(i.state.value, one_line=True),
                    text((health, _HEALTH_STYLE.get(health, "")), one_line=True),
                    text(boot, one_line=True),
                )
            )
    print_table(out, _COLUMNS, rows, full=full)
