"""`freshfleet releases`: the releases table as rich output, and its JSON shape."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from console.cli.output import Column, print_table
from console.plain import text
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
        "health_timeout_seconds": r.health_timeout_seconds,
        "created_at": r.created_at.isoformat() if r.created_at else None,
        "created_by": r.created_by,
        "notes": r.notes,
    }


_COLUMNS = tuple(
    Column(c, overflow="fold" if c == "url" else "ellipsis")
    for c in ("version", "created", "by", "sha256", "url", "notes")
)


def render_releases(out: Console, app: str, releases: list[Release], *, full: bool = False) -> None:
    """The releases table: on a terminal the sha256's first 12 digits; `full`, one release
    a line with every value whole (see console.cli.output)."""
    rows = [
        (
            text(r.version, one_line=True),
            f"{r.created_at:%Y-%m-%d %H:%M}" if r.created_at else "",
            text(r.created_by, one_line=True),
            text(r.sha256 if full else r.sha256[:12], one_line=True),
            text(redact_url(r.url), one_line=True),
            text(r.notes, one_line=True),
        )
        for r in releases
    ]
    print_table(out, _COLUMNS, rows, full=full, title=f"releases of {app}")


def render_added(out: Console, r: Release) -> None:
    out.print(
        text(
            ("added", "green"),
            f" {r.app} ",
            (r.version, "bold"),
            f"  sha256 {r.sha256[:12]}…  {redact_url(r.url)}",
        )
    )
