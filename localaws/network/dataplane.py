"""The ALB data plane: each listener is a real local port that forwards by weight.

A request to a listener's port is forwarded to a healthy target of the target groups its
matching rule (host-header and path-pattern conditions, by priority) or else its default
action forwards to, groups chosen by their ForwardConfig weights and targets in turn.
`initial`, `unhealthy` and draining targets never get new requests; requests in flight
finish where they started, for up to the target's deregistration delay. When no target
anywhere is healthy the listener fails open, like an ALB, and spreads requests over every
target that answers. Actions run by their Order: an authenticate action before the forward
answers as an ALB answers a request without a session (the identity provider's redirect,
or 401 with `deny`), since no local client ever has one.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import itertools
import random
import socket
import threading
import time
from typing import Any

import aiohttp
from aiohttp import web

from localaws.http_server import app_runner
from localaws.network.alb_metrics import RequestMeter
from localaws.network.prober import HealthProber
from localaws.runtimes.base import TARGET_HEADER, InstanceRuntime

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-encoding",
}
PROXY_TIMEOUT_SECONDS = 60.0


class DataPlane:
    """Local listeners for moto's ELBv2 listeners, all served by one aiohttp app."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, prober: HealthProber, runtime: InstanceRuntime[Any]
    ) -> None:
        self._loop = loop
        self._prober = prober
        self._runtime = runtime
        self._listeners: dict[int, Any] = {}  # local port -> moto FakeListener
        self._sites: dict[int, web.BaseSite] = {}
        self._lock = threading.Lock()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._turns: dict[str, itertools.count[int]] = {}
        self._inflight: dict[str, set[asyncio.Task[Any]]] = {}  # target id -> proxying tasks
        self.meter = RequestMeter()  # what CloudWatch's AWS/ApplicationELB metrics count

    async def open(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = app_runner(app)
        await self._runner.setup()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=512), auto_decompress=False
        )

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    # -- moto threads ------------------------------------------------------------------

    def open_listener(self, listener: Any) -> int:
        """Bind a local port for `listener` now and serve it from the loop; returns the port."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.setblocking(False)
        port = int(sock.getsockname()[1])
        with self._lock:
            self._listeners[port] = listener
        self._loop.call_soon_threadsafe(self._serve, port, sock)
        return port

    def close_listener(self, port: int) -> None:
        with self._lock:
            self._listeners.pop(port, None)
        self._loop.call_soon_threadsafe(self._stop, port)

    def close_all(self) -> None:
        with self._lock:
            ports = list(self._listeners)
        for port in ports:
            self.close_listener(port)

    def listeners(self) -> dict[int, Any]:
        with self._lock:
            return dict(self._listeners)

    # -- the loop ----------------------------------------------------------------------

    def _serve(self, port: int, sock: socket.socket) -> None:
        assert self._runner is not None
        site = web.SockSite(self._runner, sock)
        self._sites[port] = site
        self._loop.create_task(site.start())

    def _stop(self, port: int) -> None:
        site = self._sites.pop(port, None)
        if site is not None:
            self._loop.create_task(site.stop())

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        listener = self._listeners.get(int(sockname[1])) if sockname else None
        if listener is None:
            return web.Response(status=503, text="503 Service Unavailable: no listener\n")
        actions = _actions_for(listener, request)
        while actions and actions[0].type in _AUTHENTICATE:
            # No session cookie ever comes from a local client: every request is
            # unauthenticated, and OnUnauthenticatedRequest says what the ALB does then.
            refused = _unauthenticated(actions.pop(0))
            if refused is not None:
                return refused
        action = actions[0] if actions else None
        if action is None:
            return web.Response(status=503, text="503 Service Unavailable: no action\n")
        data = action.data
        if action.type == "fixed-response":
            cfg = data.get("FixedResponseConfig", {})
            return web.Response(
                status=int(cfg.get("StatusCode", 200)),
                text=cfg.get("MessageBody", ""),
                content_type=cfg.get("ContentType", "text/plain"),
            )
        if action.type != "forward":
            return web.Response(status=501, text=f"501 action {action.type} is not served here\n")
        lb_arn = str(getattr(listener, "load_balancer_arn", ""))
        chosen = self._choose(_weighted_groups(data))
        if chosen is None:
            self.meter.record_elb_error(lb_arn, 503)
            return web.Response(status=503, text="503 Service Unavailable: no target\n")
        arn, target = chosen
        started = time.monotonic()
        response, answered = await self._forward(request, target)
        if answered:
            self.meter.record(lb_arn, arn, response.status, time.monotonic() - started)
        else:
            self.meter.record_elb_error(lb_arn, response.status)
        return response

    def _choose(self, groups: list[tuple[str, int]]) -> tuple[str, str] | None:
        """A healthy target by group weight; every answering target when none is healthy."""
        healthy = {}
        for arn, weight in groups:
            ids = [t for t, state in self._prober.targets(arn) if state == "healthy"]
            if ids and weight > 0:
                healthy[arn] = (ids, weight)
        if healthy:
            arns = list(healthy)
            arn = random.choices(arns, weights=[healthy[a][1] for a in arns])[0]
            ids = healthy[arn][0]
            turn = next(self._turns.setdefault(arn, itertools.count()))
            return arn, ids[turn % len(ids)]
        # Fail open: no healthy target anywhere, so try every target that answers.
        candidates = [
            (arn, t)
            for arn, weight in groups
            if weight > 0
            for t, state in self._prober.targets(arn)
            if state not in ("draining", "unused") and self._address(t) is not None
        ]
        return random.choice(candidates) if candidates else None

    def _address(self, target_id: str) -> tuple[str, int] | None:
        if target_id.startswith("i-"):
            return self._runtime.address(target_id)
        return None

    async def _forward(
        self, request: web.Request, target_id: str
    ) -> tuple[web.StreamResponse, bool]:
        """The target's answer (True), or the load balancer's own 502/504 (False)."""
        address = self._address(target_id)
        if address is None or self._session is None:
            return web.Response(status=502, text="502 Bad Gateway\n"), False
        host, port = address
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers[TARGET_HEADER] = target_id
        peer = request.remote or ""
        forwarded = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{forwarded}, {peer}" if forwarded else peer
        headers["X-Forwarded-Proto"] = "http"
        body = await request.read()
        task = asyncio.current_task()
        inflight = self._inflight.setdefault(target_id, set())
        if task is not None:
            inflight.add(task)
        try:
            async with self._session.request(
                request.method,
                f"http://{host}:{port}{request.path_qs}",
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=PROXY_TIMEOUT_SECONDS),
            ) as upstream:
                payload = await upstream.read()
                out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
                return web.Response(status=upstream.status, body=payload, headers=out), True
        except TimeoutError:
            return web.Response(status=504, text="504 Gateway Timeout\n"), False
        except (aiohttp.ClientError, OSError):
            return web.Response(status=502, text="502 Bad Gateway\n"), False
        finally:
            inflight.discard(task)
            if not inflight:
                self._inflight.pop(target_id, None)

    def target_draining(self, target_id: str, delay: float) -> None:
        """From any thread: requests in flight on `target_id` may finish within `delay` s;
        the ones still running then are cut, as an ALB closes them."""
        self._loop.call_soon_threadsafe(self._loop.call_later, delay, self._cut, target_id)

    def _cut(self, target_id: str) -> None:
        for task in list(self._inflight.get(target_id, ())):
            task.cancel()


_AUTHENTICATE = ("authenticate-oidc", "authenticate-cognito")


def _actions_for(listener: Any, request: web.Request) -> list[Any]:
    """The actions, by Order, of the first rule (by priority) whose conditions all match,
    else the listener's default actions (a shared ALB routes apps by host or path)."""
    rules = [r for r in getattr(listener, "_non_default_rules", {}).values() if r.actions]
    chosen = list(listener.default_actions)
    for rule in sorted(rules, key=lambda r: int(r.priority)):
        if all(_condition_matches(c, request) for c in rule.conditions or []):
            chosen = list(rule.actions)
            break
    return sorted(chosen, key=lambda a: int(a.data.get("Order", 0) or 0))


def _unauthenticated(action: Any) -> web.Response | None:
    """What an ALB answers an unauthenticated request at this authenticate action: None
    to go on (`allow`), 401 (`deny`), else the redirect to the identity provider."""
    key = (
        "AuthenticateOidcConfig"
        if action.type == "authenticate-oidc"
        else ("AuthenticateCognitoConfig")
    )
    config = action.data.get(key) or {}
    behaviour = str(config.get("OnUnauthenticatedRequest") or "authenticate")
    if behaviour == "allow":
        return None
    if behaviour == "deny":
        return web.Response(status=401, text="401 Authorization Required\n")
    where = config.get("AuthorizationEndpoint") or config.get("UserPoolDomain") or "/"
    return web.Response(status=302, headers={"Location": str(where)})


def _condition_matches(condition: dict[str, Any], request: web.Request) -> bool:
    field = condition.get("Field", "")
    config_key = {"host-header": "HostHeaderConfig", "path-pattern": "PathPatternConfig"}
    values = (condition.get(config_key.get(field, ""), {}) or {}).get("Values") or condition.get(
        "Values", []
    )
    if field == "host-header":
        host = request.host.split(":", 1)[0].lower()
        return any(fnmatch.fnmatchcase(host, str(v).lower()) for v in values)
    if field == "path-pattern":
        return any(fnmatch.fnmatchcase(request.path, str(v)) for v in values)
    return False  # conditions the data plane does not evaluate never match


def _weighted_groups(data: dict[str, Any]) -> list[tuple[str, int]]:
    """(target group arn, weight) of a forward action, simple or weighted."""
    config = data.get("ForwardConfig") or {}
    groups = config.get("TargetGroups") or []
    if groups:
        out = []
        for group in groups:
            with contextlib.suppress(TypeError, ValueError):
                out.append((str(group["TargetGroupArn"]), int(group.get("Weight", 1))))
        return out
    arn = data.get("TargetGroupArn")
    return [(str(arn), 1)] if arn else []
