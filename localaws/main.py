"""The localaws process: `python -m localaws` (and `freshfleet localaws`).

Runs moto's server on 127.0.0.1 in this process with localaws's patches, the instance
runtime, health prober, ALB data plane and release server, seeds the demo, prints
(in this order) `localaws boot mode: …`, one `alb <name> at …` per load balancer and
`localaws ready at …`, writes the endpoint file, and runs until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from localaws.demo.traffic import DemoTraffic
from localaws.network.alb_metrics import MetricsPublisher
from localaws.timescale import scaled
from rollout.aws.backend import (
    DEFAULT_REGION,
    Backend,
    endpoint_file_path,
    read_endpoint_file,
    remove_endpoint_file,
    write_endpoint_file,
)

DEFAULT_PORT = 4599
RESEED_PATH = "/localaws/reseed"


class StartError(Exception):
    """localaws cannot start; the message is the one line shown."""


def build_parser(prog: str = "localaws") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Run the embedded local AWS.")
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `freshfleet localaws` and `python -m localaws`."""
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port (default 4599; 0 = any)"
    )
    parser.add_argument("--boot", default="auto", help="instance runtime: auto|real|simulated")
    parser.add_argument("--region", default=DEFAULT_REGION, help="region (default us-east-1)")
    parser.add_argument("--no-seed", action="store_true", help="start empty, without the demo")
    parser.add_argument(
        "--traffic",
        type=float,
        metavar="RPS",
        help="requests a second sent through each load balancer (default: the config's "
        "localaws.traffic_rps with the demo, 0 without it)",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="configuration file (default: freshfleet.toml)"
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        metavar="S",
        help="run AWS's timings S times as long (1 = AWS's own pace; default "
        "localaws.time_scale, 0.1)",
    )
    # Ends this process when the process that started it is gone (the console, a test run).
    parser.add_argument("--parent-pid", type=int, default=0, help=argparse.SUPPRESS)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(args)


def exit_now(code: int) -> NoReturn:
    """End the process at once: everything localaws started is already stopped, and
    tearing down moto's many modules at interpreter exit takes seconds."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run(args: argparse.Namespace) -> int:
    """Run localaws in the foreground; returns the exit code (2: bad input or port in use)."""
    _isolate_environment()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("werkzeug").disabled = True
    try:
        return asyncio.run(_serve(args))
    except StartError as exc:
        print(f"localaws: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        return 130


def _isolate_environment() -> None:
    """Dummy credentials, and never the user's AWS files (ARCHITECTURE §7)."""
    os.environ["AWS_ACCESS_KEY_ID"] = "freshfleet"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "freshfleet"
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull


def _bind_moto(port: int) -> Any:
    """moto's WSGI server bound on 127.0.0.1 (bound here, so a busy port is a clear error)."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from localaws.http_server import timed_handler

    try:
        sock = _listen(port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            record = read_endpoint_file()
            if record and str(record.get("url", "")).endswith(f":{port}"):
                raise StartError(
                    f"port {port} is in use by another localaws (pid {record.get('pid')})"
                ) from None
            raise StartError(
                f"port {port} is in use; pass --port N (or --port 0 for any)"
            ) from None
        raise StartError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    app = DomainDispatcherApplication(create_backend_app)
    # werkzeug gets the bound socket: on its own it prints and exits when a port is busy.
    handler = timed_handler(MotoRequestHandler)
    server = make_server(
        "127.0.0.1", port, app, threaded=True, request_handler=handler, fd=sock.fileno()
    )
    sock.close()  # werkzeug holds its own duplicate of the descriptor
    return server


def _listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


async def _serve(args: argparse.Namespace) -> int:
    from localaws.runtimes.boot_mode import choose_boot

    try:
        choice = choose_boot(args.boot)
    except (ValueError, RuntimeError) as exc:
        raise StartError(str(exc)) from None
    from rollout.config import ConfigError, load_config

    try:
        config = load_config(
            Path(args.config) if args.config else None,
            overrides={"localaws.time_scale": getattr(args, "time_scale", None)},
        )
    except ConfigError as exc:
        raise StartError(f"config error: {exc}") from None
    from localaws.timescale import set_time_scale

    set_time_scale(config.localaws.time_scale)
    from localaws.http_server import set_header_timeout

    set_header_timeout(config.localaws.header_timeout_seconds)

    server = _bind_moto(args.port)
    port = int(server.server_address[1])
    url = f"http://127.0.0.1:{port}"
    endpoint_file = endpoint_file_path()
    stack = contextlib.AsyncExitStack()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        await stack.__aenter__()
        stack.callback(server.server_close)
        # Said first: a real runtime may take a while to get its base image ready.
        print(f"localaws boot mode: {choice.mode} ({choice.reason})", flush=True)
        _cloud, releases = await _start_parts(stack, loop, choice.mode, config, args.region, url)
        thread = threading.Thread(target=server.serve_forever, name="moto", daemon=True)
        thread.start()
        stack.callback(server.shutdown)
        if not args.no_seed:
            await _seed(config, releases, args.region, url, stopping, choice.mode)
        if stopping.is_set():  # interrupted while starting: never say ready
            return 0
        albs = await _albs(url, args.region)
        for name, alb_url in albs.items():
            print(f"alb {name} at {alb_url}", flush=True)
        record = {
            "url": url,
            "pid": os.getpid(),
            "region": args.region,
            "boot_mode": choice.mode,
            "boot_reason": choice.reason,
            "albs": albs,
            # AWS's times here run time_scale times as long: the engine converts the wall
            # seconds it measures into this backend's seconds (rollout.aws.backend.Backend).
            "time_scale": config.localaws.time_scale,
        }
        write_endpoint_file(record, endpoint_file)
        stack.callback(remove_endpoint_file, os.getpid(), endpoint_file)

        async def reseed() -> dict[str, Any]:
            await _seed(config, releases, args.region, url, stopping, choice.mode)
            record["albs"] = await _albs(url, args.region)
            write_endpoint_file(record, endpoint_file)
            return {"albs": record["albs"]}

        server.app = ControlApp(server.app, loop, reseed)
        # The demo's load balancers get steady traffic, so a canary is judged on evidence.
        rps = args.traffic if args.traffic is not None else config.localaws.traffic_rps
        if args.traffic is None and args.no_seed:
            rps = 0.0
        traffic = DemoTraffic(rps, lambda: list(_cloud.dataplane.listeners()))
        traffic.start()
        stack.push_async_callback(traffic.stop)
        print(f"localaws ready at {url}", flush=True)
        watcher = (
            asyncio.create_task(_watch_parent(args.parent_pid, stopping))
            if args.parent_pid
            else None
        )
        await stopping.wait()
        if watcher is not None:
            watcher.cancel()
    finally:
        await stack.aclose()
    return 0


class ControlApp:
    """moto's WSGI app plus `POST /localaws/reseed`: reset moto, then seed the demo again.

    Tests use it for a fresh demo in a few seconds instead of a new process.
    """

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop, reseed: Any) -> None:
        self._app = app
        self._loop = loop
        self._reseed = reseed

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != RESEED_PATH or environ.get("REQUEST_METHOD") != "POST":
            return self._app(environ, start_response)
        from moto.moto_api._internal.models import moto_api_backend

        try:
            moto_api_backend.reset()
            body = asyncio.run_coroutine_threadsafe(self._reseed(), self._loop).result(120)
            status = "200 OK"
        except Exception as exc:
            body, status = {"error": str(exc)}, "500 Internal Server Error"
        data = json.dumps(body).encode()
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        )
        return [data]


async def _start_parts(
    stack: contextlib.AsyncExitStack,
    loop: asyncio.AbstractEventLoop,
    mode: str,
    config: Any,
    region: str,
    url: str,
) -> tuple[Any, Any]:
    from localaws.demo.releases import ReleaseServer
    from localaws.runtimes.base import RuntimeHost
    from localaws.runtimes.boot_mode import make_runtime
    from localaws.server import patches
    from localaws.server.asg_health import GroupHealth
    from localaws.server.cloud import LocalCloud

    workdir = os.environ.get("FRESHFLEET_LOCALAWS_DIR") or tempfile.mkdtemp(prefix="localaws-")
    holder: dict[str, LocalCloud] = {}
    host = RuntimeHost(
        loop=loop,
        timers=config.localaws,
        region=region,
        endpoint_url=url,
        mark_running=lambda instance_id: holder["cloud"].mark_running(instance_id),
        workdir=workdir,
    )
    runtime = make_runtime(mode, host)
    cloud = LocalCloud(loop, runtime, region, url)
    holder["cloud"] = cloud
    patches.apply(cloud)
    releases = ReleaseServer()
    await releases.open()
    stack.push_async_callback(releases.close)
    await runtime.open()
    stack.push_async_callback(runtime.close)
    await cloud.prober.open()
    stack.push_async_callback(cloud.prober.close)
    await cloud.dataplane.open()
    stack.push_async_callback(cloud.dataplane.close)
    # ASGs replace their unhealthy instances, listing each Terminating while it drains.
    group_health = GroupHealth(cloud.target_state, cloud.prober.instance_drain_seconds)
    group_health.start()
    stack.callback(group_health.stop)
    metrics = MetricsPublisher(
        cloud.dataplane.meter, region, scaled(config.localaws.metrics_period_seconds)
    )
    metrics.start()
    stack.push_async_callback(metrics.stop)
    return cloud, releases


async def _seed(
    config: Any,
    releases: Any,
    region: str,
    url: str,
    stopping: asyncio.Event,
    boot_mode: str = "simulated",
) -> None:
    from localaws.demo.seed import seed_demo
    from rollout.aws.gateway import Gateway

    async with Gateway(Backend(endpoint_url=url, region=region, local=True)) as gw:
        seeding = asyncio.create_task(seed_demo(gw, config, releases, region, boot_mode=boot_mode))
        stop = asyncio.create_task(stopping.wait())
        done, _ = await asyncio.wait({seeding, stop}, return_when=asyncio.FIRST_COMPLETED)
        if seeding not in done:
            seeding.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await seeding
            return
        stop.cancel()
        try:
            seeding.result()
        except Exception as exc:
            raise StartError(f"the demo seed failed: {exc}") from exc


async def _albs(url: str, region: str) -> dict[str, str]:
    """Load balancer name → `http://127.0.0.1:<listener port>` (its first listener)."""
    from rollout.aws.gateway import Gateway

    albs: dict[str, str] = {}
    async with Gateway(Backend(endpoint_url=url, region=region, local=True)) as gw:
        balancers = await gw.paginate("elbv2", "describe_load_balancers", "LoadBalancers")
        for lb in balancers:
            listeners = (
                await gw.call("elbv2", "describe_listeners", LoadBalancerArn=lb["LoadBalancerArn"])
            )["Listeners"]
            if listeners:
                port = min(int(lis["Port"]) for lis in listeners)
                albs[lb["LoadBalancerName"]] = f"http://{lb['DNSName']}:{port}"
    return albs


async def _watch_parent(pid: int, stopping: asyncio.Event) -> None:
    from rollout.aws.backend import pid_alive

    while not stopping.is_set():
        if not pid_alive(pid):
            stopping.set()
            return
        await asyncio.sleep(1.0)
