"""`freshfleet releases`: the releases table as rich output, and its JSON shape."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from console.plain import text
from rollout.model import Release


def release_json(r: Release) -> dict[str, Any]:
    return {
        "app": r.app,
        "version": r.version,
        "url": r.url,
        "sha256": r.sha256,
        "port": r.port,
        "health_path": r.health_path,
        "health_timeout_seconds": r.health_timeout_seconds,
        "created_at": r.created_at.isoformat() if r.created_at else None,
        "created_by": r.created_by,
        "notes": r.notes,
    }


def render_releases(out: Console, app: str, releases: list[Release]) -> None:
    title = text(f"releases of {app}")
    table = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for col in ("version", "created", "by", "sha256", "url", "notes"):
        table.add_column(col, overflow="fold" if col == "url" else "ellipsis")
    for r in releases:
        table.add_row(
            text(r.version, one_line=True),
            f"{r.created_at:%Y-%m-%d %H:%M}" if r.created_at else "",
            text(r.created_by, one_line=True),
            text(r.sha256[:12], one_line=True),
            text(r.url, one_line=True),
            text(r.notes, one_line=True),
        )
    out.print(table)


def render_added(out: Console, r: Release) -> None:
    out.print(
        text(
            ("added", "green"),
            f" {r.app} ",
            (r.version, "bold"),
            f"  sha256 {r.sha256[:12]}…  {r.url}",
        )
    )
