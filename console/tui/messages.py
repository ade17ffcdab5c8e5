"""Messages between the console's layers: the app's workers tell screens what arrived."""

from __future__ import annotations

from textual.message import Message

from console.tui.fleet_source import FleetUpdate


class FleetUpdated(Message):
    """A poll finished with a new snapshot and its diff."""

    def __init__(self, update: FleetUpdate) -> None:
        super().__init__()
        self.update = update


class PollStatus(Message):
    """How fresh the fleet is: the time of the last good poll and the last error, if any."""

    def __init__(self, error: str = "") -> None:
        super().__init__()
        self.error = error

    def can_replace(self, message: Message) -> bool:
        # A flood of statuses collapses to the newest one.
        return isinstance(message, PollStatus)
