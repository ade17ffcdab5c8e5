"""A pane that follows one instance's console output: each new line appended once, whole.

The same follower serves the instance screen (`l`/`enter`) and the rollout screen's pane.
It fetches the whole window (`GetConsoleOutput`'s last 64 KB), keeps only the complete
lines it has not shown (`rollout.fleet.console_output.LineTail`), and fetches again when that fetch
has ended: one fetch in flight, never two.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial

from textual.widgets import Log

from console.plain import plain
from rollout.fleet.console_output import LineTail

ConsoleOutput = Callable[[str], Awaitable[str]]


class ConsoleTail(Log):
    """`follow(instance_id)` shows that instance's output and keeps appending new lines."""

    def __init__(
        self,
        console_output: ConsoleOutput | None,
        *,
        every: float = 2.0,
        id: str | None = None,
        max_lines: int | None = None,
    ) -> None:
        super().__init__(id=id, highlight=False, max_lines=max_lines)
        self.console_output = console_output
        self.every = every
        self.instance_id = ""
        self._tail = LineTail()
        self._fetched = False
        self._last = False  # finish(): the next fetch is the last, its failure unsaid

    def follow(self, instance_id: str) -> None:
        """Show `instance_id`'s output from the start and follow it (a new id starts over)."""
        if self.console_output is None:
            self.clear()
            self.write_line("(console output is not available from this source)")
            return
        self._last = False
        if instance_id != self.instance_id:
            self.instance_id = instance_id
            self._tail = LineTail()
            self._fetched = False
            self.clear()
            self.write_line("fetching console output…")
        self.workers.cancel_group(self, "console-tail")
        # The coroutine function, not a coroutine: a worker cancelled before its task runs
        # (the next follow, or the pane unmounted, in the same tick) then makes none at all.
        follow: Callable[[], Awaitable[None]] = partial(self._follow, instance_id)
        self.run_worker(
            follow,
            group="console-tail",
            description=f"console output of {instance_id}",
            exit_on_error=False,
        )

    def stop(self) -> None:
        """Stop fetching (what is shown stays)."""
        self.workers.cancel_group(self, "console-tail")

    def finish(self) -> None:
        """Fetch once more, then stop: the instance may be gone soon (a failed fetch is
        then not worth a line)."""
        self._last = True

    async def _follow(self, instance_id: str) -> None:
        assert self.console_output is not None
        while self.is_mounted and instance_id == self.instance_id:
            try:
                text = await self.console_output(instance_id)
            except Exception as exc:  # shown in the pane; following stops until asked again
                if self._last:
                    return
                code = getattr(exc, "code", "")
                failed = f"(console output failed: {code + ': ' if code else ''}{exc})"
                self.write_line(plain(failed, one_line=True))
                return
            if instance_id != self.instance_id:
                return
            fresh = self._tail.feed(text)
            if not self._fetched:  # the first lines replace "fetching…" (or "no output yet")
                self.clear()
                self._fetched = bool(fresh)
                if not fresh:
                    self.write_line("(no console output yet)")
            if fresh:
                # Control characters shown as escapes (the Log would blank them to "�").
                self.write_lines([plain(line, one_line=True) for line in fresh])
            if self._last:
                return
            await asyncio.sleep(self.every)
