"""Start localaws as a child process and hold it: the console's and the tests' door.

`start_localaws(...)` spawns `python -m localaws` in its own process group, reads its
stdout up to `localaws ready at …` (raising with its stderr when it fails) and returns
a LocalAws handle; `stop()` (or leaving the `with` block) ends the whole group.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

_BOOT = re.compile(r"^localaws boot mode: (\w+) \((.*)\)$")
_ALB = re.compile(r"^alb (\S+) at (\S+)$")
_READY = re.compile(r"^localaws ready at (\S+)$")


class LocalAwsError(RuntimeError):
    """localaws did not start; the message carries its own error line."""


@dataclass
class LocalAws:
    """A running localaws child: where it is and how to stop it."""

    url: str
    pid: int
    region: str
    boot_mode: str
    boot_reason: str = ""
    albs: dict[str, str] = field(default_factory=dict)
    endpoint_file: Path | None = None
    process: subprocess.Popen[str] | None = field(default=None, repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL what is left after `timeout` s."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        # Whatever the child started in its group must not outlive it either.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    def reseed(self, timeout: float = 120.0) -> None:
        """Reset moto (every instance ends) and seed the demo again; updates `albs`."""
        albs = self._control("/localaws/reseed", timeout).get("albs", {})
        self.albs = {str(k): str(v) for k, v in albs.items()} if isinstance(albs, dict) else {}

    def reset(self, timeout: float = 60.0) -> None:
        """Reset moto: every resource and instance is gone (no tables, no demo)."""
        self._control("/moto-api/reset", timeout)
        self.albs = {}

    def _control(self, path: str, timeout: float) -> dict[str, object]:
        request = urllib.request.Request(f"{self.url}{path}", method="POST", data=b"")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                text = response.read().decode() or "{}"
        except urllib.error.HTTPError as exc:
            raise LocalAwsError(f"{path} failed: {exc.read().decode(errors='replace')}") from exc
        try:
            body = json.loads(text)
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> LocalAws:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_localaws(
    port: int = 0,
    boot: str = "simulated",
    region: str = "us-east-1",
    seed: bool = True,
    config_path: str | Path | None = None,
    endpoint_file: str | Path | None = None,
    ready_timeout: float = 60.0,
    env: dict[str, str] | None = None,
    command: Sequence[str] | None = None,
    cwd: str | Path | None = None,
) -> LocalAws:
    """Spawn localaws and return once it printed its ready line.

    `port=0` picks a free port. `endpoint_file` sets FRESHFLEET_ENDPOINT_FILE for the
    child (tests run several side by side); `env` adds environment variables (e.g.
    `FRESHFLEET_LOCALAWS__PHASE_SECONDS`). Raises LocalAwsError with the child's error
    line when it exits or is not ready within `ready_timeout` seconds. `command` runs it
    another way (`["/venv/bin/freshfleet", "localaws"]`: an installed wheel), from `cwd`.
    """
    cmd = [*(command or (sys.executable, "-m", "localaws")), "--port", str(port), "--boot", boot]
    cmd += ["--region", region, "--parent-pid", str(os.getpid())]
    if not seed:
        cmd.append("--no-seed")
    if config_path is not None:
        cmd += ["--config", str(config_path)]
    child_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    if endpoint_file is not None:
        child_env["FRESHFLEET_ENDPOINT_FILE"] = str(endpoint_file)
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env,
        cwd=cwd,
        start_new_session=True,  # its own process group: stop() ends all it started
    )
    lines: queue.Queue[str | None] = queue.Queue()
    stderr: list[str] = []
    threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
    threading.Thread(target=_collect, args=(proc.stderr, stderr), daemon=True).start()
    handle = LocalAws(
        url="",
        pid=proc.pid,
        region=region,
        boot_mode="",
        endpoint_file=Path(endpoint_file) if endpoint_file else None,
        process=proc,
    )
    deadline = time.monotonic() + ready_timeout
    try:
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise LocalAwsError(
                    f"localaws was not ready within {ready_timeout:.0f} s{_tail(stderr)}"
                ) from None
            if line is None:
                proc.wait(5)
                time.sleep(0.05)  # let the stderr reader catch the last line
                raise LocalAwsError(
                    f"localaws exited with {proc.returncode}{_tail(stderr) or ' (no message)'}"
                )
            if m := _BOOT.match(line):
                handle.boot_mode, handle.boot_reason = m.group(1), m.group(2)
            elif m := _ALB.match(line):
                handle.albs[m.group(1)] = m.group(2)
            elif m := _READY.match(line):
                handle.url = m.group(1)
                return handle
    except BaseException:
        handle.stop()
        raise


def _pump(stream: object, lines: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _collect(stream: object, sink: list[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        sink.append(line.rstrip("\n"))
        del sink[:-200]


def _tail(stderr: list[str]) -> str:
    lines = [line for line in stderr if line.strip()]
    return ": " + " | ".join(lines[-5:]) if lines else ""
