"""Open the console: choose the backend (ARCHITECTURE §2), starting an embedded localaws if none.

The embedded sandbox starts on a thread while the console already shows "starting local
sandbox…", and it is stopped when the console ends, however it ends.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib
import signal
import sys
import threading
from typing import Any

from console.cli.common import Exit, config_of, err
from console.plain import text
from console.tui.app import Connection, FreshfleetApp
from console.tui.fleet_source import ObserverSource
from rollout.aws.backend import DEFAULT_REGION, LOCAL_LABEL, Backend, discover_backend
from rollout.config import Config, ConfigError

STARTING_SANDBOX = "starting local sandbox…"


class EmbeddedSandbox:
    """A localaws started for this console only (on a free port), stopped on quit."""

    def __init__(self, boot: str = "auto") -> None:
        self.boot = boot
        self._started: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="localaws-start", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            process = importlib.import_module("localaws.process")
            self._started.set_result(process.start_localaws(port=0, boot=self.boot))
        except BaseException as exc:  # handed to the console, which shows it
            self._started.set_exception(exc)

    async def backend(self) -> Backend:
        """Wait (without blocking the loop) until localaws is ready; its backend."""
        import asyncio

        handle = await asyncio.wrap_future(self._started)
        return Backend(
            endpoint_url=str(handle.url),
            region=str(getattr(handle, "region", "") or DEFAULT_REGION),
            local=True,
            boot_mode=str(getattr(handle, "boot_mode", "") or ""),
            boot_reason=str(getattr(handle, "boot_reason", "") or ""),
        )

    def exit_reason(self) -> str:
        """Why the started localaws is gone ("" while it runs, or before it started)."""
        if not self._started.done() or self._started.exception() is not None:
            return ""
        process = getattr(self._started.result(), "process", None)
        code = process.poll() if process is not None else None
        if code is None:
            return ""
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        return f"the local sandbox exited ({how})"

    async def connect(self, config: Config) -> Connection:
        """Connect once localaws is ready; the connection says when it is gone."""
        connection = await connect_live(await self.backend(), config)
        connection.gone = self.exit_reason
        connection.embedded = True
        return connection

    def stop(self) -> None:
        """Stop localaws, waiting for a start still in progress so nothing is left behind."""
        if self._thread is None:
            return
        self._thread.join(timeout=120)
        if self._started.done() and self._started.exception() is None:
            self._started.result().stop()


async def connect_live(backend: Backend, config: Config) -> Connection:
    """A Gateway, the account (for the production banner) and the observer over them."""
    from rollout.aws.gateway import Gateway
    from rollout.fleet.observer import FleetObserver

    gateway = Gateway(backend)
    try:
        account = "" if backend.local else await gateway.account_id()
    except BaseException:
        await gateway.close()
        raise
    if backend.local:
        label = backend.label
    else:
        label = f"account {account} {await gateway.region()}".strip()
    # The fleet screen freezes the heap after its first big frame (`rollout.heap`).
    observer = FleetObserver(
        gateway, config.tables, interval=config.rollout.poll_seconds, freeze_heap=False
    )

    async def console_output(instance_id: str) -> str:
        from rollout.fleet.console_output import ConsoleFollower

        # The whole window each time: the pane appends only what is new.
        return await ConsoleFollower(gateway, instance_id).fetch()

    return Connection(
        backend_label=label,
        source=ObserverSource(observer, on_close=gateway.close),
        account=account,
        console_output=console_output,
        gateway=gateway,
        boots=backend.boots,
    )


def _exit_on_hangup() -> dict[int, Any]:
    """SIGTERM/SIGHUP (a closed terminal) end the console through its `finally`, so an
    embedded sandbox is stopped rather than left running."""

    def leave(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    return {s: signal.signal(s, leave) for s in (signal.SIGTERM, signal.SIGHUP)}


def console_config(args: argparse.Namespace, backend: Backend | None) -> Config:
    """The console's configuration: the demo's short timers when it runs on a localaws,
    including the embedded one it is about to start (`backend` None)."""
    return config_of(args, local=backend is None or backend.local)


def run_console(args: argparse.Namespace) -> int:
    """Run the Textual console until the user quits; returns the exit code."""
    backend = discover_backend(
        endpoint_url=getattr(args, "endpoint_url", None),
        profile=getattr(args, "profile", None),
        region=getattr(args, "region", None),
        aws=bool(getattr(args, "aws", False)),
    )
    try:
        config = console_config(args, backend)
    except ConfigError as exc:
        err.print(text(("config error:", "red"), f" {exc}"))
        return Exit.BAD_INPUT
    sandbox: EmbeddedSandbox | None = None
    if backend is None:
        sandbox = EmbeddedSandbox(getattr(args, "boot", "auto"))
        started = sandbox

        async def connect() -> Connection:
            return await started.connect(config)

        connecting, label = STARTING_SANDBOX, LOCAL_LABEL
    else:
        found = backend

        async def connect() -> Connection:
            return await connect_live(found, config)

        connecting, label = f"connecting to {backend.label}…", backend.label
    app = FreshfleetApp(
        connect,
        config=config,
        read_only=bool(getattr(args, "read_only", False)),
        allow_deploy=bool(getattr(args, "allow_deploy", False)),
        connecting=connecting,
        backend_label=label,
        poll_seconds=1.0 if backend is None or backend.local else None,
    )
    previous = _exit_on_hangup()
    try:
        if sandbox is not None:
            sandbox.start()
        app.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if sandbox is not None:
            sandbox.stop()
    if app.return_code is None:
        return 0
    sys.stdout.flush()
    return int(app.return_code)
