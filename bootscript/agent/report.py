"""The agent's report: one console line per phase event, and the same in the instances table.

stdout carries the phase lines (the unit sends it to the journal and the console, where
`GetConsoleOutput` reads it); stderr carries the full build log (journal only), because
a normal boot already nearly fills the console's 64 KB.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

PHASES = ("fetch", "verify", "extract", "build", "run", "health")
STATUSES = ("start", "ok", "fail")
DETAIL_LIMIT = 400  # a console line stays readable; the full story is in the journal
# Instance items expire after 30 days (the table's TTL attribute `ttl`, epoch seconds).
ITEM_TTL_SECONDS = 30 * 24 * 3600
# A write is retried with backoff: briefly for a passing phase (the next one writes the item
# again anyway), longer for a final one (fail, health ok): that is what the gate waits for.
RETRY_DELAYS = (0.25, 0.5)
FINAL_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def one_line(detail: str) -> str:
    """Detail as a single printable line, cut to DETAIL_LIMIT characters."""
    text = " ".join(str(detail).split())
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"


def phase_line(phase: str, status: str, detail: str = "", at: str = "") -> str:
    """`freshfleet-boot <ISO-8601 time> <phase> <start|ok|fail> [detail]` (ARCHITECTURE §6)."""
    line = f"freshfleet-boot {at or now_iso()} {phase} {status}"
    detail = one_line(detail)
    return f"{line} {detail}" if detail else line


@dataclass(eq=False, kw_only=True)
class PhaseReporter:
    """Prints phase lines and mirrors them into the instances table when one is configured.

    The table's item is keyed by `instance_arn`, this instance's ARN (the instance role may
    write only the item of its own `ec2:SourceInstanceARN`); without one (no account known)
    nothing is written to the table. A table that cannot be written never fails the boot:
    the console line is the report of record. Each write is retried with backoff, and every
    later event tries again (fresh credentials or a table created late recover the reports);
    the error is said once on stderr, and so is the recovery.
    """

    instance_id: str
    instance_arn: str = ""
    app: str
    release: str
    rollout: str = ""
    table: str = ""
    table_client: Callable[[], Any] | None = None
    console: TextIO | None = None  # None: this process's stdout at construction
    journal: TextIO | None = None  # None: this process's stderr at construction
    sleep: Callable[[float], None] = time.sleep
    lines: list[str] = field(init=False, default_factory=list)
    # The first event's time: boot statistics count from it.
    started_at: str = field(init=False, default="")
    _client: Any = field(init=False, default=None)
    _table_failing: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.console = self.console or sys.stdout
        self.journal = self.journal or sys.stderr

    def event(self, phase: str, status: str, detail: str = "") -> str:
        at = now_iso()
        self.started_at = self.started_at or at
        line = phase_line(phase, status, detail, at)
        self.lines.append(line)
        print(line, file=self.console, flush=True)
        self._write_table(phase, status, one_line(detail), at)
        return line

    def log(self, text: str) -> None:
        """A journal-only line (build output, retries, reasons in full)."""
        print(text, file=self.journal, flush=True)

    def _write_table(self, phase: str, status: str, detail: str, at: str) -> None:
        if not self.table or self.table_client is None:
            return
        if not self.instance_arn:
            if not self._table_failing:
                self.log(
                    f"freshfleet-boot: not writing to table {self.table}: this instance's "
                    "ARN is unknown (no account from IMDS or FRESHFLEET_ACCOUNT_ID)"
                )
            self._table_failing = True
            return
        item = {
            "instance_arn": {"S": self.instance_arn},
            "instance_id": {"S": self.instance_id},
            "app": {"S": self.app},
            "release": {"S": self.release},
            "rollout": {"S": self.rollout},  # the engine's gate reads only its own rollout's
            "phase": {"S": phase},
            "status": {"S": status},
            "detail": {"S": detail},
            "updated_at": {"S": at},
            "started_at": {"S": self.started_at or at},
            "ttl": {"N": str(int(time.time()) + ITEM_TTL_SECONDS)},
        }
        final = status == "fail" or (phase == "health" and status == "ok")
        delays = FINAL_RETRY_DELAYS if final else RETRY_DELAYS
        for attempt in range(len(delays) + 1):
            try:
                if self._client is None:
                    self._client = self.table_client()
                self._client.put_item(TableName=self.table, Item=item)
            except Exception as exc:  # any AWS, credentials or network error: try again
                if attempt == len(delays):
                    if not self._table_failing:
                        self.log(f"freshfleet-boot: cannot write to table {self.table}: {exc}")
                    self._table_failing = True
                    return
                self.sleep(delays[attempt])
                continue
            if self._table_failing:
                self.log(f"freshfleet-boot: writing to table {self.table} again")
            self._table_failing = False
            return
