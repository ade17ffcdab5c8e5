"""Columns fitted to a width: the one rule by which every table of the console (the fleet,
a rollout's instances, the history) chooses what a narrow terminal leaves out and how wide
each column stays.

Pure (no Textual): `fit_columns` is arithmetic the tests read; `FittedTable` is a Rich
renderable that fits itself to the width it is drawn at, so a resized screen redraws it
fitted again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from rich.console import Console, ConsoleOptions, OverflowMethod, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table


@dataclass(frozen=True, slots=True)
class Column:
    """A table's column: its key, its title and its widths.

    `width` is what it gets when there is room, `min_width` (0: `width`) the narrowest it
    still reads at; a column with a `drop` rank is left out on a narrow terminal, the
    highest rank first, before any column is narrowed below `min_width`. `justify` aligns
    its cells (numbers to the right).
    """

    key: str
    title: str
    width: int
    min_width: int = 0
    drop: int = 0
    justify: Literal["left", "right"] = "left"

    @property
    def least(self) -> int:
        return self.min_width or self.width


def fit_columns(
    columns: Sequence[Column],
    available: int,
    *,
    indent: int = 0,
    growth_order: Sequence[str] = (),
) -> tuple[tuple[Column, int], ...]:
    """The `columns` shown in `available` cells (after `indent`, one blank between columns)
    and each one's width.

    Columns with a `drop` rank are left out, highest first, until the rest fit at their
    `width`s; when even the columns that stay do not, they start at their `min_width`s and
    the room left widens them toward their `width`s in `growth_order` (by default left to
    right; keys not named grow after those named). What is left after that goes to the last
    column shown. Columns without a `drop` rank are always shown: below their least widths
    the table is wider than `available`.
    """
    shown = list(columns)

    def need(chosen: list[Column], least: bool = False) -> int:
        return indent + sum(c.least if least else c.width for c in chosen) + len(chosen) - 1

    for victim in sorted((c for c in columns if c.drop), key=lambda c: -c.drop):
        if need(shown) <= available:
            break
        shown.remove(victim)
    widths = {c.key: c.least for c in shown}
    spare = available - need(shown, least=True)
    order = [*growth_order, *(c.key for c in columns if c.key not in growth_order)]
    for key in order:
        if spare <= 0:
            break
        column = next((c for c in shown if c.key == key), None)
        if column is not None:
            grow = min(spare, column.width - widths[key])
            widths[key] += grow
            spare -= grow
    if spare > 0:
        widths[shown[-1].key] += spare
    return tuple((c, widths[c.key]) for c in shown)


class FittedTable:
    """A Rich table of `rows` (one cell per column, in `columns`' order) fitted to the width
    it is drawn at by `fit_columns`: a cell longer than its column ends in `…`, but in the
    last column, which wraps onto more lines (put there what must be read whole)."""

    def __init__(
        self,
        columns: Sequence[Column],
        rows: Iterable[Sequence[RenderableType]],
        *,
        growth_order: Sequence[str] = (),
    ) -> None:
        self.columns = tuple(columns)
        self.rows = [tuple(row) for row in rows]
        self.growth_order = tuple(growth_order)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        snug = [self._snug(n, column, console, options) for n, column in enumerate(self.columns)]
        shown = fit_columns(snug, options.max_width, growth_order=self.growth_order)
        table = Table(box=None, header_style="bold", padding=(0, 1, 0, 0), pad_edge=False)
        for n, (column, width) in enumerate(shown):
            last = n == len(shown) - 1
            overflow: OverflowMethod = "fold" if last else "ellipsis"
            table.add_column(
                column.title,
                width=width,
                no_wrap=not last,
                overflow=overflow,
                justify=column.justify,
            )
        keys = [c.key for c in self.columns]
        picks = [keys.index(column.key) for column, _ in shown]
        for row in self.rows:
            table.add_row(*(row[i] for i in picks))
        yield table

    def _snug(self, n: int, column: Column, console: Console, options: ConsoleOptions) -> Column:
        """`column` no wider than its title and its widest cell, so that the room a column
        of short cells does not use goes to the last column, which wraps."""
        widest = max(
            [len(column.title)]
            + [Measurement.get(console, options, row[n]).maximum for row in self.rows]
        )
        return replace(column, width=min(column.width, widest), min_width=min(column.least, widest))
