"""Sending one notification through one notifier: a timeout per attempt, bounded retries.

A delivery never raises: it returns a `Delivery` that says what answered (the HTTP status,
SNS's message id, or why it failed), so a notifier that fails is reported, never fatal.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import asdict, dataclass

import aiohttp

from rollout.aws.gateway import AwsError, Gateway
from rollout.notify.message import (
    SIGNATURE_HEADER,
    Notification,
    sign,
    slack_body,
    sns_message,
    webhook_body,
)
from rollout.notify.settings import NotifierSpec

ATTEMPTS = 3
BACKOFF_SECONDS = (0.5, 1.5)  # before the second and the third attempt


@dataclass(frozen=True, slots=True)
class Delivery:
    """How one notification fared with one notifier."""

    notifier: str
    event: str
    ok: bool
    detail: str  # "HTTP 200", "message id …", or why it failed
    attempts: int

    def as_item(self) -> dict[str, object]:
        """The delivery as the ledger stores it: every field, by name, in field order."""
        return asdict(self)


class _Retry(Exception):
    """This attempt failed in a way worth another try (timeout, 5xx, 429, no connection)."""


class _GiveUp(Exception):
    """This delivery cannot succeed by trying again (4xx, a missing secret)."""


async def deliver(spec: NotifierSpec, n: Notification, gw: Gateway | None = None) -> Delivery:
    """Send `n` through `spec`, up to ATTEMPTS times, each within the notifier's timeout."""
    detail = ""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with asyncio.timeout(spec.timeout_seconds):
                detail = await _send_once(spec, n, gw)
            return Delivery(spec.label, n.event, True, detail, attempt)
        except TimeoutError:
            detail = f"no answer within {spec.timeout_seconds:g} s"
        except _Retry as exc:
            detail = str(exc)
        except _GiveUp as exc:
            return Delivery(spec.label, n.event, False, str(exc), attempt)
        if attempt < ATTEMPTS:
            await asyncio.sleep(BACKOFF_SECONDS[attempt - 1])
    return Delivery(spec.label, n.event, False, detail, ATTEMPTS)


async def _send_once(spec: NotifierSpec, n: Notification, gw: Gateway | None) -> str:
    if spec.kind == "sns":
        return await _publish(spec, n, gw)
    headers = {"Content-Type": "application/json", "User-Agent": "freshfleet-notify"}
    if spec.kind == "slack":
        body = slack_body(n)
    else:
        body = webhook_body(n)
        headers[SIGNATURE_HEADER] = sign(body, await _secret(spec, gw))
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(spec.url, data=body, headers=headers, allow_redirects=False) as resp,
        ):
            await resp.read()
            status = resp.status
    except aiohttp.ClientError as exc:
        raise _Retry(f"{type(exc).__name__}: {exc}") from exc
    if status >= 500 or status == 429:
        raise _Retry(f"HTTP {status}")
    if status >= 300:
        raise _GiveUp(f"HTTP {status}")
    return f"HTTP {status}"


async def _secret(spec: NotifierSpec, gw: Gateway | None) -> str:
    """The webhook's HMAC key: from the environment, else from SSM; never unsigned."""
    if spec.secret_env:
        value = os.environ.get(spec.secret_env, "")
        if not value:
            raise _GiveUp(f"the signing secret ${spec.secret_env} is not set")
        return value
    if spec.secret_ssm and gw is not None:
        try:
            got = await gw.call("ssm", "get_parameter", Name=spec.secret_ssm, WithDecryption=True)
        except AwsError as exc:
            raise _GiveUp(f"the signing secret {spec.secret_ssm}: {exc}") from exc
        return str(got["Parameter"]["Value"])
    raise _GiveUp("a webhook needs 'secret_env' or 'secret_ssm' to sign its body")


async def _publish(spec: NotifierSpec, n: Notification, gw: Gateway | None) -> str:
    if gw is None:
        raise _GiveUp("an sns notifier needs an AWS session")
    subject, message = sns_message(n)
    try:
        got = await gw.call(
            "sns",
            "publish",
            TopicArn=spec.topic_arn,
            Subject=subject,
            Message=message,
            MessageAttributes={
                "event": {"DataType": "String", "StringValue": n.event},
                "app": {"DataType": "String", "StringValue": n.app},
            },
        )
    except AwsError as exc:
        if exc.code in ("Throttling", "ThrottlingException", "InternalError", "ServiceUnavailable"):
            raise _Retry(str(exc)) from exc
        raise _GiveUp(str(exc)) from exc
    return f"message id {got.get('MessageId', '?')}"
