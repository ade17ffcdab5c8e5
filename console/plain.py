"""Stored text shown as text, in every face.

What AWS and the ledger hold (release notes, lock owners and messages, boot details,
failure reasons, console output, tags, names) is never markup, never an action and never
a terminal escape: `plain` makes its control characters visible (`\\x1b`, `\\r`, ...) and
`text` builds a `rich.text.Text` from it, which neither Rich nor Textual parses as markup.
Our own styling goes in `(text, style)` parts, never in square brackets around a value.
"""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text

# C0 controls, DEL and C1 controls (0x9b is a one-byte CSI), and the Unicode bidi controls
# that reorder what a terminal shows: each becomes its escape, visible and inert.
_BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029)
_SHOWN = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
_SHOWN |= {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"} | {c: f"\\u{c:04x}" for c in _BIDI}
_ONE_LINE = _SHOWN
_KEEP_LINES = {c: v for c, v in _SHOWN.items() if c not in (0x09, 0x0A)}


def plain(value: object, *, one_line: bool = False) -> str:
    """`value` as a string whose control characters are shown as escapes (`\\x1b`, `\\r`,
    `\\x07`, `\\u202e`), so printing it can move no cursor, set no title and clear nothing.

    Tabs and newlines stay, unless `one_line` (a table cell, a status line): then they
    show as `\\t` and `\\n`. Square brackets are left as they are: put the result in a `Text` (see
    `text`), never into markup.
    """
    s = "" if value is None else str(value)
    if s.isprintable():  # the common case, checked in C
        return s
    return s.translate(_ONE_LINE if one_line else _KEEP_LINES)


Part = str | tuple[str, str]


def text(*parts: Part, one_line: bool = False) -> Text:
    """A `Text` of `parts`, each a string or `(string, style)`, every string made `plain`:
    what shows is exactly the characters given, in Rich (tables, prints, prompts) and in
    Textual (Static, Button, OptionList, border titles) alike."""
    if len(parts) == 1 and isinstance(parts[0], tuple):  # one style: the whole cell's
        return Text(plain(parts[0][0], one_line=one_line), style=parts[0][1])
    out = Text()
    for part in parts:
        if isinstance(part, tuple):
            out.append(plain(part[0], one_line=one_line), style=part[1])
        else:
            out.append(plain(part, one_line=one_line))
    return out


def escaped(value: object) -> str:
    """`value` made `plain` and escaped for Rich markup, for the few lines still written as
    markup: prefer `text`, which needs no escaping."""
    return escape(plain(value))
