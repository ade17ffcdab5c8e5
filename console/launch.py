"""Open the console: choose the backend (DESIGN §2), starting an embedded localaws if none."""

from __future__ import annotations

import argparse


def run_console(args: argparse.Namespace) -> int:
    """Run the Textual console until the user quits; returns the exit code."""
    from textual.app import App
    from textual.widgets import Footer, Header, Static

    class Placeholder(App[int]):
        TITLE = "freshfleet"

        def compose(self):  # type: ignore[no-untyped-def]
            yield Header()
            yield Static("freshfleet console — the fleet screen is being built.")
            yield Footer()

    Placeholder().run()
    return 0
