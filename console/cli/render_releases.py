"""`freshfleet releases`: the releases table as rich output, and its JSON shape."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from rollout.model import Release
from rollout.userdata import redact_url


def release_json(r: Release) -> dict[str, Any]:
    return {
        "app": r.app,
        "version": r.version,
        "url": redact_url(r.url),
        "sha256": r.sha256,
        "port": r.port,
        "health_path": r.health_path,
        "created_at": r.created_at.isoformat() if r.created_at else None,
        "created_by": r.created_by,
        "notes": r.notes,
    }


def render_releases(out: Console, app: str, releases: list[Release]) -> None:
    table = Table(title=f"releases of {app}", title_justify="left", box=None, pad_edge=False)
    for col in ("version", "created", "by", "sha256", "url", "notes"):
        table.add_column(col, overflow="fold" if col == "url" else "ellipsis")
    for r in releases:
        table.add_row(
            r.version,
            f"{r.created_at:%Y-%m-%d %H:%M}" if r.created_at else "",
            r.created_by,
            r.sha256[:12],
            redact_url(r.url),
            r.notes,
        )
    out.print(table)


def render_added(out: Console, r: Release) -> None:
    url = redact_url(r.url)
    out.print(f"[green]added[/] {r.app} [bold]{r.version}[/]  sha256 {r.sha256[:12]}…  {url}")
