"""The one door to AWS: an aiobotocore session whose clients are created once and reused.

Every client uses adaptive retries and the chosen Backend's endpoint, profile and region.
AWS failures are turned into `AwsError`s whose message names the cause (and, for access
denied, the IAM action) so the faces can show them as they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import os
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit
from xml.etree import ElementTree

import botocore.session
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)
from botocore.parsers import ResponseParserFactory

from rollout.aws.backend import Backend

if TYPE_CHECKING:  # the installed stubs (types-aiobotocore), for the typed hot calls
    from types_aiobotocore_autoscaling import AutoScalingClient
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_elbv2 import ElasticLoadBalancingv2Client

T = TypeVar("T")

SERVICES = ("ec2", "elbv2", "autoscaling", "dynamodb", "s3", "sts", "ssm", "iam")

# Credentials a local endpoint accepts; never used for real AWS.
_LOCAL_CREDENTIALS = {"aws_access_key_id": "freshfleet", "aws_secret_access_key": "freshfleet"}

_EXPIRED_CODES = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
_CREDENTIAL_CODES = {"InvalidClientTokenId", "UnrecognizedClientException", "AuthFailure"}
_THROTTLE_CODES = {"Throttling", "ThrottlingException", "RequestLimitExceeded"}
# Failures that say nothing about the resources: the same call may well pass a moment later.
_TRANSIENT_CODES = {
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "Unavailable",
    "RequestTimeout",
    "RequestTimeoutException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    # botocore's own: a credential refresh or a connection that failed this time
    "CredentialRetrievalError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ConnectionClosedError",
    "EndpointConnectionError",
}


class AwsError(RuntimeError):
    """An AWS call failed; `code` is AWS's error code (or ours), `message` says why."""

    def __init__(
        self, message: str, *, code: str = "", operation: str = "", status: int = 0
    ) -> None:
        super().__init__(message)
        self.code = code
        self.operation = operation
        self.status = status  # the HTTP status AWS answered with (0: none, or not known)


class CredentialsError(AwsError):
    """Credentials are missing, expired or rejected."""


class AccessDenied(AwsError):
    """The caller lacks an IAM permission; `action` names it (e.g. `ec2:RunInstances`)."""

    def __init__(self, message: str, *, action: str, code: str = "AccessDenied") -> None:
        super().__init__(message, code=code, operation=action)
        self.action = action


def iam_action(service: str, operation: str) -> str:
    """The IAM action name of an API operation: `elasticloadbalancing:DescribeTargetHealth`."""
    prefix = {"elbv2": "elasticloadbalancing", "stepfunctions": "states"}.get(service, service)
    return f"{prefix}:{operation}"


def translate(exc: BaseException, service: str = "", operation: str = "") -> AwsError:
    """Turn a botocore failure into an AwsError with a message a person can act on."""
    if isinstance(exc, AwsError):
        return exc
    if isinstance(exc, NoCredentialsError):
        return CredentialsError(
            "no AWS credentials found: set AWS_PROFILE or pass --profile "
            "(or use --endpoint-url for a local endpoint)",
            code="NoCredentials",
        )
    if isinstance(exc, ProfileNotFound):
        return CredentialsError(f"AWS profile not found: {exc}", code="ProfileNotFound")
    if isinstance(exc, NoRegionError):
        return AwsError("no AWS region: pass --region or set AWS_REGION", code="NoRegion")
    if isinstance(exc, EndpointConnectionError):
        return AwsError(
            f"cannot reach {exc.kwargs.get('endpoint_url', 'the endpoint')}: is the endpoint "
            "URL right, and the region a real one?",
            code="EndpointConnectionError",
        )
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        message = str(err.get("Message", "")) or str(exc)
        op = exc.operation_name or operation
        if code in _EXPIRED_CODES:
            return CredentialsError(
                f"AWS credentials expired ({code}): refresh them (e.g. `aws sso login`) and retry",
                code=code,
                operation=op,
            )
        if code in _CREDENTIAL_CODES:
            return CredentialsError(
                f"AWS rejected the credentials ({code}): {message}", code=code, operation=op
            )
        if code in _DENIED_CODES:
            action = iam_action(service, op) if service else op
            return AccessDenied(
                f"access denied: the caller lacks {action} ({message})", action=action, code=code
            )
        where = f"{service}:{op}" if service else op
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return AwsError(
            f"{where} failed: {code}: {message}", code=code, operation=op, status=status
        )
    if isinstance(exc, BotoCoreError):
        return AwsError(str(exc), code=type(exc).__name__, operation=operation)
    return AwsError(str(exc) or type(exc).__name__, code=type(exc).__name__, operation=operation)


_READ_PREFIXES = ("describe_", "get_", "list_", "batch_get_", "head_", "query", "scan")


def is_read(operation: str) -> bool:
    """Whether an operation (snake_case name) only reads: Describe*, Get*, List*,
    BatchGetItem, Head*, Query, Scan. Everything else may change something."""
    return operation.startswith(_READ_PREFIXES)


@contextlib.contextmanager
def translated(service: str, operation: str) -> Iterator[None]:
    """Raise any botocore failure of the block as the AwsError `translate` makes of it
    (`operation` in snake_case, as the client's method is named)."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, service, _camel(operation)) from exc


def is_throttle(exc: BaseException) -> bool:
    return isinstance(exc, AwsError) and exc.code in _THROTTLE_CODES


def is_transient(exc: BaseException) -> bool:
    """Whether an AwsError is one a moment's wait may cure (throttling after the SDK's own
    retries, a 5xx, a failed credential refresh or connection), not a verdict on the
    resources: a watch takes it as "no reading this tick"."""
    if not isinstance(exc, AwsError) or isinstance(exc, AccessDenied):
        return False
    return exc.code in _THROTTLE_CODES or exc.code in _TRANSIENT_CODES or exc.status >= 500


class Gateway:
    """Clients for one Backend, created lazily, reused, and closed with the gateway.

    Use as `async with Gateway(backend) as gw: ec2 = await gw.client("ec2")`.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        max_attempts: int = 10,
        max_pool_connections: int = 20,
        session: AioSession | None = None,
    ) -> None:
        self.backend = backend
        self._session = session or get_session()
        if backend.profile:
            self._session.set_config_variable("profile", backend.profile)
        _region_from_env(self._session, backend)
        self._config = AioConfig(
            retries={"mode": "adaptive", "max_attempts": max_attempts},
            max_pool_connections=max_pool_connections,
            connect_timeout=5,
            read_timeout=60,
        )
        self._sync_config = Config(
            retries={"mode": "adaptive", "max_attempts": max_attempts},
            connect_timeout=5,
            read_timeout=60,
        )
        self._stack = AsyncExitStack()
        self._clients: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self._event_handlers: list[tuple[str, Callable[..., Any]]] = []
        self._sync_clients: dict[str, Any] = {}
        self._probed = False  # the endpoint URL answered once
        self._sync_lock = threading.Lock()
        self._guard: Callable[[str, str], Awaitable[None]] | None = None
        self._account = ""  # the caller's account, once STS said it

    def guarded(self, guard: Callable[[str, str], Awaitable[None]]) -> Gateway:
        """A view of this gateway (the same clients, handlers and backend) whose `call` and
        `call_in_thread` first await `guard(service, operation)` before every operation that
        is not a read (`is_read`): whatever the guard raises stops the call before it is
        sent. Reads and paginations are not guarded. Closing the view closes this gateway."""
        view = copy.copy(self)
        view._guard = guard
        return view

    async def _before(self, service: str, operation: str) -> None:
        if self._guard is not None and not is_read(operation):
            await self._guard(service, operation)

    @property
    def session(self) -> AioSession:
        return self._session

    def register(self, event: str, handler: Callable[..., Any]) -> None:
        """Register a botocore event handler on every client (existing and future)."""
        self._event_handlers.append((event, handler))
        for client in [*self._clients.values(), *self._sync_clients.values()]:
            client.meta.events.register(event, handler)

    async def client(self, service: str) -> Any:
        """The shared client for `service`, created on first use."""
        existing = self._clients.get(service)
        if existing is not None:
            return existing
        async with self._lock:
            if service not in self._clients:
                if self.backend.endpoint_url and not self._probed:
                    await probe_endpoint(self.backend.endpoint_url)
                    self._probed = True
                kwargs = self._client_kwargs(service)
                try:
                    creator: Any = self._session.create_client
                    client = await self._stack.enter_async_context(creator(service, **kwargs))
                except Exception as exc:  # profile/region problems surface here
                    raise translate(exc, service) from exc
                for event, handler in self._event_handlers:
                    client.meta.events.register(event, handler)
                self._clients[service] = client
        return self._clients[service]

    def _client_kwargs(self, service: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"config": self._config}
        if self.backend.region:
            kwargs["region_name"] = self.backend.region
            if not self.backend.endpoint_url:
                check_region(service, self.backend.region)
        if self.backend.endpoint_url:
            kwargs["endpoint_url"] = self.backend.endpoint_url
        if self.backend.local:
            kwargs.update(_LOCAL_CREDENTIALS)
        return kwargs

    def _sync_client(self, service: str) -> Any:
        """A plain botocore client for work done on a thread (same backend, same handlers)."""
        with self._sync_lock:
            client = self._sync_clients.get(service)
            if client is None:
                session = botocore.session.get_session()
                if self.backend.profile:
                    session.set_config_variable("profile", self.backend.profile)
                _region_from_env(session, self.backend)
                kwargs = self._client_kwargs(service)
                kwargs["config"] = self._sync_config
                session.register_component("response_parser_factory", _SlicedXmlParsers())
                client = session.create_client(service, **kwargs)
                for event, handler in self._event_handlers:
                    client.meta.events.register(event, handler)
                self._sync_clients[service] = client
            return client

    async def paginate_in_thread(
        self, service: str, operation: str, key: str, **params: Any
    ) -> list[Any]:
        """Like `paginate`, but the calls and their parsing run on a worker thread.

        For huge sweeps (a first `describe_instances` of thousands of instances) whose
        response parsing would otherwise stall the event loop for a second or more.
        """
        return await in_thread(self._sweep, service, operation, key, "", params)

    async def instance_states_in_thread(self, **params: Any) -> list[dict[str, Any]]:
        """DescribeInstanceStatus's items across all pages, on a worker thread, each with
        only `InstanceId` and `InstanceState.Name` (the rest is never parsed: at 5,000
        instances that is most of the call's CPU)."""
        return await in_thread(
            self._sweep,
            "ec2",
            "describe_instance_status",
            "InstanceStatuses",
            _STATUSES_SHAPE,
            params,
        )

    async def target_health_in_thread(self, target_group_arn: str) -> dict[str, Any]:
        """DescribeTargetHealth of one target group, on a worker thread, each description
        with only `Target.Id` and `TargetHealth`."""
        return await in_thread(
            self._call_sync,
            "elbv2",
            "describe_target_health",
            _TARGET_HEALTH_SHAPE,
            {"TargetGroupArn": target_group_arn},
        )

    async def call_in_thread(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """Like `call`, with the call and its parsing on a worker thread (huge responses)."""
        await self._before(service, operation)
        return await in_thread(self._call_sync, service, operation, "", params)

    def _sweep(
        self, service: str, operation: str, key: str, lean: str, params: dict[str, Any]
    ) -> list[Any]:
        """Every page's `key` items, on the calling (worker) thread; `lean` names an output
        shape to parse lean (`_LEAN`), or is empty."""
        client = self._sync_client(service)
        items: list[Any] = []
        _lean.shape = lean
        try:
            for page in client.get_paginator(operation).paginate(**params):
                items.extend(page.get(key, []))
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, service, _camel(operation)) from exc
        finally:
            _lean.shape = ""
        return items

    def _call_sync(
        self, service: str, operation: str, lean: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """One call on the calling (worker) thread; `lean` as in `_sweep`."""
        client = self._sync_client(service)
        _lean.shape = lean
        try:
            result: dict[str, Any] = getattr(client, operation)(**params)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, service, _camel(operation)) from exc
        finally:
            _lean.shape = ""
        return result

    async def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """Call one operation (snake_case name) and translate any failure into AwsError."""
        await self._before(service, operation)
        client = await self.client(service)
        with translated(service, operation):
            result: dict[str, Any] = await getattr(client, operation)(**params)
        return result

    # Typed clients for the hot calls: their parameters and answers are checked against the
    # installed stubs. Call them inside `translated(service, operation)`, as `call` does.

    async def dynamodb(self) -> DynamoDBClient:
        """The shared DynamoDB client, typed."""
        client: DynamoDBClient = await self.client("dynamodb")
        return client

    async def elbv2(self) -> ElasticLoadBalancingv2Client:
        """The shared ELBv2 client, typed."""
        client: ElasticLoadBalancingv2Client = await self.client("elbv2")
        return client

    async def autoscaling(self) -> AutoScalingClient:
        """The shared Auto Scaling client, typed."""
        client: AutoScalingClient = await self.client("autoscaling")
        return client

    async def paginate(self, service: str, operation: str, key: str, **params: Any) -> list[Any]:
        """Every item under `key` across all pages of a paginated operation."""
        client = await self.client(service)
        items: list[Any] = []
        try:
            async for page in client.get_paginator(operation).paginate(**params):
                items.extend(page.get(key, []))
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, service, _camel(operation)) from exc
        return items

    async def region(self) -> str:
        """The region every client of this gateway talks to: the backend's, else the one the
        SDK resolved (profile, `AWS_REGION`, `AWS_DEFAULT_REGION`), as `client.meta` says."""
        if self.backend.region:
            return self.backend.region
        client = await self.client("sts")
        return str(client.meta.region_name or "")

    async def account_id(self) -> str:
        """The caller's account id (from STS, asked once per gateway)."""
        if not self._account:
            ident = await self.call("sts", "get_caller_identity")
            self._account = str(ident.get("Account", ""))
        return self._account

    async def close(self) -> None:
        self._clients.clear()
        for sync_client in self._sync_clients.values():
            with contextlib.suppress(Exception):
                sync_client.close()
        self._sync_clients.clear()
        with contextlib.suppress(Exception):
            await self._stack.aclose()

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _region_from_env(session: Any, backend: Backend) -> None:
    """`AWS_REGION`, which botocore ignores, as every other AWS SDK reads it: above the
    profile's region (`AWS_DEFAULT_REGION`, which botocore reads, keeps its own place)."""
    region = os.environ.get("AWS_REGION")
    if region and not backend.region and not os.environ.get("AWS_DEFAULT_REGION"):
        session.set_config_variable("region", region)


def check_region(service: str, region: str) -> None:
    """Raise AwsError when `region` is not one of the service's known AWS regions."""
    known = _known_regions(service)
    if known and region not in known:
        raise AwsError(
            f"unknown AWS region {region!r}: pass --region with a real region "
            "(for example us-east-1)",
            code="UnknownRegion",
        )


@functools.cache
def _known_regions(service: str) -> frozenset[str]:
    session = botocore.session.get_session()
    known: set[str] = set()
    for partition in session.get_available_partitions():
        known.update(session.get_available_regions(service, partition_name=partition))
    return frozenset(known)


async def probe_endpoint(url: str, within: float = 3.0) -> None:
    """Raise AwsError at once when nothing listens at the endpoint URL.

    Without it a wrong `--endpoint-url` would first go through every adaptive retry
    (about a minute) before saying anything.
    """
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname or "localhost", port), within
        )
    except (OSError, TimeoutError) as exc:
        raise AwsError(
            f"cannot reach {url}: nothing answers there ({exc.__class__.__name__}); "
            "is the endpoint URL right and the local AWS running?",
            code="EndpointConnectionError",
        ) from exc
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


def _camel(operation: str) -> str:
    return "".join(part.capitalize() for part in operation.split("_"))


_XML_SLICE = 64 * 1024


class _SlicedXmlParsers(ResponseParserFactory):
    """botocore's response parsers, whose XML ones feed the body to expat in 64 KB slices.

    Worker-thread clients use these (the session's `response_parser_factory`).
    """

    def create_parser(self, protocol_name: str) -> Any:
        parser = super().create_parser(protocol_name)
        _parse_xml_in_slices(parser)
        _parse_lean(parser)
        return parser


# Set on a worker thread by `Gateway._sweep` and `Gateway._call_sync` for their own calls only.
_lean = threading.local()
_STATUSES_SHAPE = "DescribeInstanceStatusResult"
_TARGET_HEALTH_SHAPE = "DescribeTargetHealthOutput"


def _parse_lean(parser: Any) -> None:
    """Let a parser answer the output shape named by `_lean.shape` with its lean parse.

    Only while `_lean.shape` is set on the calling thread, by the gateway's lean sweeps:
    botocore's generic walk of the full DescribeInstanceStatus shape cost 244 ms for
    5,000 instances, the lean one 50-60 ms.
    """
    if not hasattr(parser, "_do_parse"):
        return
    original = parser._do_parse

    def do_parse(response: Mapping[str, Any], shape: Any) -> Any:
        wanted = getattr(_lean, "shape", "")
        if wanted and getattr(shape, "name", "") == wanted:
            lean = _LEAN[wanted]
            return lean(parser._parse_xml_string_to_dom(response["body"]))
        return original(response, shape)

    parser._do_parse = do_parse


def instance_states_of(root: ElementTree.Element) -> dict[str, Any]:
    """A DescribeInstanceStatus response's XML as botocore would parse it, each item cut
    to `InstanceId` and `InstanceState.Name` (and the page's `NextToken`)."""
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    statuses = []
    found = root.find(f"{ns}instanceStatusSet")
    for item in found if found is not None else ():
        statuses.append(
            {
                "InstanceId": item.findtext(f"{ns}instanceId"),
                "InstanceState": {"Name": item.findtext(f"{ns}instanceState/{ns}name")},
            }
        )
    parsed: dict[str, Any] = {"InstanceStatuses": statuses}
    token = root.findtext(f"{ns}nextToken")
    if token:
        parsed["NextToken"] = token
    return parsed


def target_health_of(root: ElementTree.Element) -> dict[str, Any]:
    """A DescribeTargetHealth response's XML as botocore would parse it, each description
    cut to `Target.Id` and `TargetHealth` (`State`, and `Reason`, `Description` if given)."""
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    found = root.find(f"{ns}DescribeTargetHealthResult/{ns}TargetHealthDescriptions")
    descriptions = []
    for member in found if found is not None else ():
        health: dict[str, str] = {}
        node = member.find(f"{ns}TargetHealth")
        if node is not None:
            for field in ("State", "Reason", "Description"):
                text = node.findtext(f"{ns}{field}")
                if text is not None:
                    health[field] = text
        descriptions.append(
            {"Target": {"Id": member.findtext(f"{ns}Target/{ns}Id")}, "TargetHealth": health}
        )
    return {"TargetHealthDescriptions": descriptions}


_LEAN: dict[str, Callable[[ElementTree.Element], dict[str, Any]]] = {
    _STATUSES_SHAPE: instance_states_of,
    _TARGET_HEALTH_SHAPE: target_health_of,
}


def _parse_xml_in_slices(parser: Any) -> None:
    """Make an XML response parser feed the body to expat in 64 KB slices.

    botocore feeds the whole body at once, and expat's C loop holds the GIL for all of it:
    a 2 MB `DescribeInstanceStatus` of 5,000 instances took 45-60 ms in one slice, during
    which the event loop, waiting for the GIL, stalled. Between slices the interpreter
    hands the GIL over as usual (every `sys.getswitchinterval()`), so the loop keeps
    running while a thread parses. The tree built is the same. A parser that is not
    XML's (JSON: DynamoDB), or a botocore whose parser is laid out otherwise, is left as
    it is.
    """
    if not hasattr(parser, "_parse_xml_string_to_dom"):
        return
    original = parser._parse_xml_string_to_dom

    def parse(xml_string: bytes) -> Any:
        if len(xml_string) <= _XML_SLICE:
            return original(xml_string)
        try:
            target = ElementTree.XMLParser(
                target=ElementTree.TreeBuilder(), encoding=parser.DEFAULT_ENCODING
            )
            for start in range(0, len(xml_string), _XML_SLICE):
                target.feed(xml_string[start : start + _XML_SLICE])
            return target.close()
        except ElementTree.ParseError:
            return original(xml_string)  # botocore's own error, with its message

    parser._parse_xml_string_to_dom = parse


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking or CPU-heavy work off the event loop."""
    return await asyncio.to_thread(fn, *args)
