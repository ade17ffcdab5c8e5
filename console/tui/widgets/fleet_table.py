"""The fleet table on Textual's Line API: instant at 5,000 instances.

Toolong's approach: a `ScrollView` that paints one line at a time from a per-row strip
cache. A poll costs O(changes + visible lines): its diff updates the per-group counts
(`FleetTally`), marks the changed rows stale (`RowStore` builds a row only when it is
painted or filtered) and repaints only the visible lines that changed; the order is
recomputed only when rows come, go, or move under the sort/filter, from sort values
cached per row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.tui.fitted_columns import Column
from console.tui.fleet_rows import (
    COLUMN_KEYS,
    FleetRow,
    FleetTally,
    RowFilter,
    RowKind,
    RowStore,
    age_text,
    app_row,
    fit_fleet_columns,
    group_row,
    instance_row,
    instance_sort_value,
    layout_keys,
)
from console.tui.fleet_source import FleetUpdate
from rollout.model import FleetSnapshot, ServerGroup

INDENT = 4  # instance rows sit under their group line
_NO_STYLE = Style()  # built once: constructing a Style costs more than painting a cell
# Columns whose values can change on a poll: sorting by them reorders on any change.
_STABLE_SORTS = frozenset({"id", "az", "type", "age"})


_MISSING = object()


def _is_heading(key: str) -> bool:
    return key.startswith(("app:", "group:"))


def _fit(text: str, width: int) -> str:
    if len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text.ljust(width)


class FleetTable(ScrollView, can_focus=True):
    """Apps → server groups → instances, keyed by instance id, with a sticky header."""

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="fleet.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="fleet.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="fleet.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="fleet.page_down"),
        Binding("home,g", "jump(0)", "Top", show=False, id="fleet.top"),
        Binding("end,G", "jump(-1)", "Bottom", show=False, id="fleet.bottom"),
    ]

    COMPONENT_CLASSES = {
        "fleet-table--header",
        "fleet-table--cursor",
        "fleet-table--app",
        "fleet-table--group",
        "fleet-table--ok",
        "fleet-table--warn",
        "fleet-table--bad",
        "fleet-table--dim",
        "fleet-table--flag",
    }

    DEFAULT_CSS = """
    FleetTable { background: $surface; }
    FleetTable > .fleet-table--header { text-style: bold; background: $panel; color: $text; }
    FleetTable > .fleet-table--cursor { background: $block-cursor-background 60%; }
    FleetTable:focus > .fleet-table--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground;
    }
    FleetTable > .fleet-table--app { text-style: bold; color: $accent; }
    FleetTable > .fleet-table--group { color: $text; }
    FleetTable > .fleet-table--ok { color: $success; }
    FleetTable > .fleet-table--warn { color: $warning; }
    FleetTable > .fleet-table--bad { color: $error; text-style: bold; }
    FleetTable > .fleet-table--dim { color: $text-muted; }
    FleetTable > .fleet-table--flag { color: $error; text-style: bold; }
    """

    class Highlighted(Message):
        """The cursor moved to a row."""

        def __init__(self, key: str | None) -> None:
            super().__init__()
            self.key = key

    class Opened(Message):
        """`enter` or a double click on an instance row."""

        def __init__(self, instance_id: str) -> None:
            super().__init__()
            self.instance_id = instance_id

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.clock = clock
        self.snapshot: FleetSnapshot | None = None
        self.rows = RowStore(self._build_row)
        self.tally = FleetTally()
        self.order: list[str] = []
        self._index: dict[str, int] = {}
        self._cache: dict[tuple[str, bool], tuple[FleetRow, tuple[int, str], Strip]] = {}
        self._ages: dict[str, str] = {}
        self._groups: dict[str, ServerGroup] = {}
        self._serving: dict[str, str] = {}  # app -> its serving release
        self._sort_values: dict[str, Any] = {}  # instance key -> value under sort_column
        self.cursor = 0
        self.sort_column = "id"
        self.sort_reverse = False
        self.row_filter = RowFilter()
        self.painted = 0  # lines painted from scratch (cache misses), for benchmarks
        self._instance_keys: list[str] | None = []
        self.shown_instances = 0  # instance rows in `order`
        self._styles: dict[tuple[str, bool], Style] = {}
        # The columns shown at `_layout_width` cells: (index in a row's cells, column, width).
        self._layout_width = -1
        self._layout: tuple[tuple[int, Column, int], ...] = ()

    # --- data -------------------------------------------------------------------------

    @property
    def cursor_key(self) -> str | None:
        return self.order[self.cursor] if 0 <= self.cursor < len(self.order) else None

    @property
    def instance_keys(self) -> list[str]:
        """The instance ids shown, in display order (listed when first asked after a
        relayout; `shown_instances` counts them without listing)."""
        if self._instance_keys is None:
            self._instance_keys = [k for k in self.order if not _is_heading(k)]
        return self._instance_keys

    def row(self, key: str) -> FleetRow | None:
        return self.rows.get(key)

    def _build_row(self, key: str) -> FleetRow | None:
        snap = self.snapshot
        inst = snap.instances.get(key) if snap is not None else None
        if inst is None:
            return None
        return instance_row(inst, self._groups.get(inst.group), self._serving.get(inst.app, ""))

    def _sort_value(self, key: str) -> Any:
        value = self._sort_values.get(key, _MISSING)
        if value is _MISSING:
            if self.sort_column == "id":
                return key
            inst = self.snapshot.instances[key] if self.snapshot is not None else None
            if inst is None:
                return ""
            value = self._sort_values[key] = instance_sort_value(
                self.sort_column,
                inst,
                self._groups.get(inst.group),
                self._serving.get(inst.app, ""),
            )
        return value

    def apply(self, update: FleetUpdate) -> None:
        """Apply one poll in O(changes + visible lines): mark changed rows stale (built
        when painted), update the per-group counts from the diff, rebuild the dirty group
        and app lines, and repaint only the visible lines that changed; relayout only when
        the order can change."""
        snap, diff = update.snapshot, update.diff
        first = self.snapshot is None
        self.snapshot = snap
        self._groups = {g.name: g for a in snap.apps for g in a.groups}
        self._serving = {a.name: a.serving_release for a in snap.apps}
        changed_groups, changed_apps = set(diff.groups_changed), set(diff.apps_changed)
        for key in diff.removed:
            self.rows.pop(key, None)
            self._sort_values.pop(key, None)
        touched: set[str] = set(snap.instances) if first else set(diff.added) | set(diff.changed)
        # Flags depend on the group's weight and the app's serving release.
        for app in snap.apps:
            if app.name in changed_apps:
                touched.update(i for g in app.groups for i in g.instance_ids)
        for name in changed_groups:
            if name in self._groups:
                touched.update(self._groups[name].instance_ids)
        dirty_groups = set(changed_groups)
        dirty_groups |= self.tally.update(
            snap, [*diff.added, *diff.changed, *diff.removed], changed_groups, everything=first
        )
        instances = snap.instances
        for key in touched:
            inst = instances.get(key)
            if inst is not None:
                self.rows.mark(key)
                self._sort_values.pop(key, None)
                dirty_groups.add(inst.group)
        dirty_apps = changed_apps | {self._groups[g].app for g in dirty_groups if g in self._groups}
        headings: set[str] = set()
        for app in snap.apps:
            for group in app.groups:
                if first or group.name in dirty_groups:
                    self.rows[f"group:{group.name}"] = group_row(
                        group, (), tally=self.tally.groups.get(group.name)
                    )
                    headings.add(f"group:{group.name}")
            if first or app.name in dirty_apps:
                self.rows[f"app:{app.name}"] = app_row(app, instances, tallies=self.tally.groups)
                headings.add(f"app:{app.name}")
        structural = (
            first
            or bool(diff.added or diff.removed or changed_groups or changed_apps)
            or (
                bool(diff.changed)
                and (self.row_filter.active or self.sort_column not in _STABLE_SORTS)
            )
        )
        if changed_groups or changed_apps:
            live = {f"app:{a.name}" for a in snap.apps} | {f"group:{g}" for g in self._groups}
            stale = [k for k in self.rows if _is_heading(k) and k not in live]
            for key in stale:
                del self.rows[key]
        if structural:
            self._relayout(changed=touched | headings)
        else:
            self._refresh_keys(touched | headings)

    @property
    def _sort_moves_rows(self) -> bool:
        return self.sort_column not in _STABLE_SORTS

    def _relayout(self, changed: set[str] | None = None) -> None:
        """Recompute the order. After a poll (`changed` given), when the lines on screen
        and the size stay the same, repaint only the changed lines on screen."""
        snap = self.snapshot
        if snap is None:
            return
        current = self.cursor_key
        top = int(self.scroll_y)
        height = self.size.height
        before = self.order[top : top + height], len(self.order), self.cursor
        group_rows = {name: row for name in self._groups if (row := self.rows.get(f"group:{name}"))}
        values = self._sort_values
        if self.sort_column != "id":
            # Only the rows changed since the last layout lack a value: fill those, then
            # sort with the dict's own lookup (no Python call per key).
            for key in snap.instances.keys() - values.keys():
                self._sort_value(key)
        self.order = order = layout_keys(
            snap.apps,
            group_rows,
            self.rows,
            sort_column=self.sort_column,
            reverse=self.sort_reverse,
            row_filter=self.row_filter,
            sort_value=values.__getitem__,
            present=snap.instances,
        )
        self._index = dict(zip(order, range(len(order)), strict=True))
        self._instance_keys = None
        headings = [f"app:{a.name}" for a in snap.apps] + [f"group:{g}" for g in self._groups]
        self.shown_instances = len(order) - sum(1 for k in headings if k in self._index)
        if len(self._cache) > 4 * len(self.order) + 64:
            self._cache = {k: v for k, v in self._cache.items() if k[0] in self._index}
        self.virtual_size = Size(self._content_width(), len(self.order) + 1)
        if current is not None and current in self._index:
            self.cursor = self._index[current]
        else:
            self.cursor = min(self.cursor, max(0, len(self.order) - 1))
            if self.cursor == 0 and self.shown_instances:
                self.cursor = self._index[self.instance_keys[0]]
        after = self.order[top : top + height], len(self.order), self.cursor
        if changed is not None and before == after:
            self._refresh_keys(changed)
        else:
            self.refresh()

    def _refresh_keys(self, keys: Iterable[str]) -> None:
        """Drop the cached lines of `keys` and repaint those on screen (one region each)."""
        top = int(self.scroll_y)
        bottom = top + self.size.height
        width = max(self.virtual_size.width, self.size.width)
        regions: list[Region] = []
        cache = self._cache
        index = self._index
        for key in keys:
            cache.pop((key, False), None)
            cache.pop((key, True), None)
            n = index.get(key)
            if n is not None and top <= n + 1 <= bottom:
                regions.append(Region(0, n + 1 - top, width, 1))
        if regions:
            self.refresh(*regions)

    def tick_ages(self) -> None:
        """Repaint the visible rows whose age text changed (called once a second)."""
        now = self.clock()
        top = int(self.scroll_y)
        for n in range(top, min(len(self.order), top + self.size.height)):
            key = self.order[n]
            row = self.rows[key]
            if row.kind is RowKind.INSTANCE and self._ages.get(key) != age_text(
                row.launched_at, now
            ):
                self.refresh_line(n + 1)

    # --- sorting, filtering -----------------------------------------------------------

    def sort_by(self, column: str, *, reverse: bool | None = None) -> None:
        if reverse is None:
            reverse = (not self.sort_reverse) if column == self.sort_column else False
        if column != self.sort_column:
            self._sort_values.clear()
        self.sort_column, self.sort_reverse = column, reverse
        self._cache.clear()
        self._relayout()

    def cycle_sort(self) -> None:
        n = COLUMN_KEYS.index(self.sort_column)
        self.sort_by(COLUMN_KEYS[(n + 1) % (len(COLUMN_KEYS) - 1)], reverse=False)

    def set_filter(self, text: str) -> None:
        self.row_filter = RowFilter.parse(text)
        self._relayout()

    # --- cursor -----------------------------------------------------------------------

    def move_cursor(self, row: int) -> None:
        if not self.order:
            return
        old = self.cursor
        self.cursor = max(0, min(len(self.order) - 1, row))
        if old != self.cursor:
            self.refresh_line(old + 1)
            self.refresh_line(self.cursor + 1)
        self._scroll_cursor_into_view()
        self.post_message(self.Highlighted(self.cursor_key))

    def move_cursor_to(self, key: str) -> bool:
        n = self._index.get(key)
        if n is None:
            return False
        self.move_cursor(n)
        return True

    def _scroll_cursor_into_view(self) -> None:
        height = self.scrollable_content_region.height
        if height <= 1:
            return
        y = int(self.scroll_y)
        if self.cursor < y:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor + 1 - y > height - 1:
            self.scroll_to(y=self.cursor + 2 - height, animate=False)

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self.cursor + direction * max(1, self.size.height - 2))

    def action_jump(self, where: int) -> None:
        self.move_cursor(0 if where == 0 else len(self.order) - 1)

    def open_cursor(self) -> None:
        key = self.cursor_key
        if key is not None and self.rows[key].kind is RowKind.INSTANCE:
            self.post_message(self.Opened(key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            column = self._column_at(offset.x + int(self.scroll_x))
            if column is not None:
                self.sort_by(column)
            return
        row = offset.y + int(self.scroll_y) - 1
        if 0 <= row < len(self.order):
            self.move_cursor(row)
            if event.chain >= 2:
                self.open_cursor()

    def _column_at(self, x: int) -> str | None:
        pos = INDENT
        for _, col, width in self.columns():
            if pos <= x < pos + width + 1:
                return col.key
            pos += width + 1
        return None

    # --- painting ---------------------------------------------------------------------

    def columns(self) -> tuple[tuple[int, Column, int], ...]:
        """The columns shown at the table's width (`fleet_rows.fit_fleet_columns`), each as its
        index in a row's cells, the column and its width."""
        width = self.size.width
        if width != self._layout_width:
            self._layout = tuple(
                (COLUMN_KEYS.index(col.key), col, cells)
                for col, cells in fit_fleet_columns(width, INDENT)
            )
            self._layout_width = width
        return self._layout

    def _content_width(self) -> int:
        shown = self.columns()
        return INDENT + sum(width for _, _, width in shown) + len(shown) - 1

    def _style(self, tone: str, partial: bool = True) -> Style:
        """A component style, memoised: resolving CSS per cell costs more than painting."""
        if not tone:
            return _NO_STYLE
        key = (tone, partial)
        style = self._styles.get(key)
        if style is None:
            name = f"fleet-table--{tone}"
            style = self._styles[key] = self.get_component_rich_style(name, partial=partial)
        return style

    def notify_style_update(self) -> None:
        # A theme change or focus change restyles every line.
        super().notify_style_update()
        self._styles.clear()
        self._cache.clear()

    def on_focus(self) -> None:
        self._styles.clear()
        self._cache.clear()

    def on_blur(self) -> None:
        self._styles.clear()
        self._cache.clear()

    def _header_strip(self, width: int) -> Strip:
        style = self._style("header", partial=False)
        text = " " * INDENT
        for _, col, cells in self.columns():
            title = col.title
            if col.key == self.sort_column:
                title += " ▼" if self.sort_reverse else " ▲"
            text += _fit(title, cells) + " "
        return Strip([Segment(text, style)]).adjust_cell_length(width, style)

    def _row_strip(self, row: FleetRow, width: int, selected: bool, age: str) -> Strip:
        base = self._styles.get(("", False))
        if base is None:
            base = self._styles[("", False)] = self.rich_style
        if selected:
            base += self._style("cursor", partial=False)
        segments: list[Segment] = []
        if row.kind is RowKind.INSTANCE:
            segments.append(Segment(" " * INDENT, base))
            cells = list(row.cells)
            self._ages[row.key] = age
            cells[COLUMN_KEYS.index("age")] = age
            tones = row.tones
            for n, _, room in self.columns():
                tone = tones[n]
                style = base + self._style(tone) if not selected else base
                if selected and tone in ("bad", "flag"):
                    style = base + Style(bold=True)
                segments.append(Segment(_fit(cells[n], room), style))
                segments.append(Segment(" ", base))
        else:
            tone = "app" if row.kind is RowKind.APP else "group"
            style = self._style(tone, partial=False)
            role = self._style(row.tone)
            flag = f"  ⚠ {row.flag}" if row.flag else ""
            text = row.text
            if len(text) + len(flag) > width:
                # Too long for the line: the flag stays whole, the text ends in "…".
                text = _fit(text, max(width - len(flag), min(len(text), 12)))
            if row.kind is RowKind.GROUP:
                # The role word takes the role's colour; the rest stays plain.
                role_word, rest = text[:11], text[11:]
                segments.append(Segment(role_word, base + style + role if not selected else base))
                segments.append(Segment(rest, base + style if not selected else base))
            else:
                segments.append(Segment(text, base + style if not selected else base))
            if flag:
                flag_style = self._style("flag", partial=False)
                segments.append(Segment(flag, base + flag_style if not selected else base))
        # Neighbouring cells of one style become one segment: fewer for Textual to walk.
        return Strip(Segment.simplify(segments)).adjust_cell_length(width, base)

    def render_line(self, y: int) -> Strip:
        width = max(self.virtual_size.width, self.size.width)
        scroll_x = int(self.scroll_x)
        if y == 0:
            strip = self._header_strip(width)
        else:
            n = y + int(self.scroll_y) - 1
            if n >= len(self.order):
                return Strip.blank(self.size.width, self.rich_style)
            key = self.order[n]
            row = self.rows[key]
            selected = n == self.cursor
            age = age_text(row.launched_at, self.clock()) if row.kind is RowKind.INSTANCE else ""
            cached = self._cache.get((key, selected))
            if cached is not None and cached[0] is row and cached[1] == (width, age):
                strip = cached[2]
            else:
                self.painted += 1
                strip = self._row_strip(row, width, selected, age)
                self._cache[(key, selected)] = (row, (width, age), strip)
        return strip.crop(scroll_x, scroll_x + self.size.width)

    def visible_text(self) -> str:
        """The lines on screen as plain text (what a person reads; used by tests)."""
        return "\n".join(self.render_line(y).text.rstrip() for y in range(self.size.height))

    def on_resize(self, event: events.Resize) -> None:
        self._cache.clear()
        self.virtual_size = Size(self._content_width(), len(self.order) + 1)
