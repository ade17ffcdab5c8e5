"""The console's footer: its keys fit the width, down to an 80-column terminal."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from console.tui.keymap import WIDE_ONLY_ACTIONS

# Below this width the keys go compact (one blank fewer each), and the palette's key and
# the `wide_only` actions leave the footer (still keys: `?` lists them, ctrl+p opens the
# palette). At 80 columns the fleet screen's other keys, `q` and `?` then fit.
NARROW = 120


class FittedFooter(Footer):
    """Textual's footer, compact and with fewer keys on a narrow screen."""

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            hidden = isinstance(widget, FooterKey) and widget.action in WIDE_ONLY_ACTIONS
            if not (self.compact and hidden):
                yield widget

    def on_resize(self, event: events.Resize) -> None:
        narrow = event.size.width < NARROW
        if narrow != self.compact:
            self.compact = narrow
            self.show_command_palette = not narrow
            self.refresh(recompose=True)
