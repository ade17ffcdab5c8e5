"""How a command prints its table for the stream it writes to: the one place that decides.

On a terminal, without `--wide`: a rich table fitted to the terminal's width (long cells
wrap or end in `…`), as a person reads it. Piped (stdout is not a terminal) or with
`--wide`: one record a line and every value in full, as `grep` and `awk` read it: a header
line, then the columns aligned and separated by two spaces, never wrapped, never cut at
any width; an empty cell prints as `-` and a cell of several lines prints them on its one
line, separated by `; `. Colours stay on a terminal and are off in a pipe, as rich does.
`--json` is not this module's: it prints JSON whatever the stream.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

Cell = str | Text
GAP = "  "
EMPTY = "-"


@dataclass(frozen=True)
class Column:
    """A column: its header and, on a fitted terminal table, what a too-long cell does."""

    header: str
    overflow: Literal["fold", "crop", "ellipsis"] = "ellipsis"


def add_wide_flag(parser: argparse.ArgumentParser) -> None:
    """`--wide`: full values, one record a line, on a terminal too."""
    parser.add_argument(
        "--wide",
        action="store_true",
        help="full values, one record a line (what a pipe gets) on a terminal too",
    )


def full_records(args: argparse.Namespace) -> bool:
    """True when the output should be full records: `--wide`, or stdout is not a terminal."""
    if getattr(args, "wide", False):
        return True
    return not sys.stdout.isatty()


def print_table(
    out: Console,
    columns: Sequence[Column],
    rows: Iterable[Sequence[Cell]],
    *,
    full: bool,
    title: str | None = None,
) -> None:
    """Print `rows` under `columns`: fitted to the terminal, or (`full`) as full records."""
    rows = list(rows)
    if not full:
        table = Table(title=title, title_justify="left", box=None, pad_edge=False, show_edge=False)
        for column in columns:
            table.add_column(column.header, overflow=column.overflow)
        for row in rows:
            table.add_row(*row)
        out.print(table)
        return
    if title:
        print_line(out, Text(title), full=True)
    for line in record_lines([c.header for c in columns], rows):
        print_line(out, line, full=True)


def record_lines(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> list[Text]:
    """The header and one line per row, columns padded to their widest cell, no trailing
    blanks: the full-records rendering (see the module's docstring)."""
    grid = [[Text(h, style="bold") for h in headers]]
    grid += [[one_line(cell) for cell in row] for row in rows]
    widths = [max(cell.cell_len for cell in column) for column in zip(*grid, strict=True)]
    lines = []
    for cells in grid:
        line = Text()
        for n, (cell, width) in enumerate(zip(cells, widths, strict=True)):
            if n:
                line.append(GAP)
            line.append_text(cell)
            if n < len(cells) - 1:
                line.append(" " * (width - cell.cell_len))
        line.rstrip()
        lines.append(line)
    return lines


def one_line(cell: Cell) -> Text:
    """A cell as one line of text: its lines joined by `; `, `-` when empty."""
    text = Text(cell) if isinstance(cell, str) else cell.copy()
    if "\n" in text.plain:
        parts = [part for part in text.split("\n") if part.plain.strip()]
        text = Text("; ").join(parts)
    if not text.plain.strip():
        return Text(EMPTY)
    return text


def print_line(out: Console, line: str | Text, *, full: bool) -> None:
    """Print one line (rich markup in a str); with `full`, never wrapped nor cut."""
    if full:
        out.print(line, soft_wrap=True, crop=False)
    else:
        out.print(line)
