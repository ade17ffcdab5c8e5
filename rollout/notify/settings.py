"""The `[[notify]]` tables of the configuration: who hears about an app's rollouts.

    [[notify]]
    app = "demo-web"            # or "*"
    kind = "webhook"            # "slack" | "webhook" | "sns"
    url = "https://hooks.example/T0/B0/x"   # sns: topic_arn = "arn:aws:sns:…"
    secret_env = "FRESHFLEET_HOOK_SECRET"   # webhook only: the HMAC key's variable
    events = ["started", "succeeded", "failed", "rolled_back"]   # default: all

A webhook's secret comes from the environment (`secret_env`) or SSM (`secret_ssm`, a
SecureString parameter name), never from the file itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# Every event a notifier can hear, in the order a rollout meets them.
EVENTS: tuple[str, ...] = (
    "started",
    "shifted",
    "bake_passed",
    "succeeded",
    "failed",
    "rolled_back",
    "aborted",
    "lock_taken_over",
    "test",
)
KINDS = ("slack", "webhook", "sns")
_KEYS = frozenset(
    {"app", "kind", "url", "topic_arn", "secret_env", "secret_ssm", "events", "name", "timeout"}
)


class NotifySettingsError(ValueError):
    """A `[[notify]]` table is invalid; the message names the table and the key."""


@dataclass(frozen=True, slots=True)
class NotifierSpec:
    """One notifier: where it sends, for which app, which events."""

    app: str
    kind: str
    url: str = ""
    topic_arn: str = ""
    secret_env: str = ""
    secret_ssm: str = ""
    events: tuple[str, ...] = EVENTS
    name: str = ""
    timeout_seconds: float = 5.0

    @property
    def label(self) -> str:
        """How the notifier is named in notices and the ledger: its name, else kind and host."""
        if self.name:
            return self.name
        if self.kind == "sns":
            return f"sns {self.topic_arn.rsplit(':', 1)[-1]}"
        return f"{self.kind} {urlsplit(self.url).hostname or self.url}"

    def hears(self, app: str, event: str) -> bool:
        """True when this notifier is for `app` (or every app) and wants `event`."""
        return self.app in ("*", app) and (event == "test" or event in self.events)


def notifiers_for(specs: Sequence[NotifierSpec], app: str) -> tuple[NotifierSpec, ...]:
    """The notifiers of `app`, in the order the configuration lists them."""
    return tuple(s for s in specs if s.app in ("*", app))


def parse_notifiers(value: Any, source: str) -> tuple[NotifierSpec, ...]:
    """The `[[notify]]` array of tables as NotifierSpecs; NotifySettingsError on any bad key."""
    if not isinstance(value, list):
        raise NotifySettingsError(f"{source}: 'notify' must be an array of tables ([[notify]])")
    return tuple(_one(table, i, source) for i, table in enumerate(value))


def _one(table: Any, index: int, source: str) -> NotifierSpec:
    where = f"{source}: notify[{index}]"
    if not isinstance(table, Mapping):
        raise NotifySettingsError(f"{where} must be a table")
    if "secret" in table:
        raise NotifySettingsError(f"{where}: secrets never live in the file: use 'secret_env'")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise NotifySettingsError(f"{where}: unknown key '{unknown[0]}'")
    kind = str(table.get("kind", ""))
    if kind not in KINDS:
        raise NotifySettingsError(f"{where}: 'kind' must be one of {', '.join(KINDS)}")
    app = str(table.get("app", "")).strip()
    if not app:
        raise NotifySettingsError(f"{where}: 'app' is required (an app name, or \"*\")")
    url, topic = str(table.get("url", "")), str(table.get("topic_arn", ""))
    if kind == "sns":
        if not topic.startswith("arn:"):
            raise NotifySettingsError(f"{where}: an sns notifier needs 'topic_arn' (arn:aws:sns:…)")
    elif urlsplit(url).scheme not in ("https", "http") or not urlsplit(url).hostname:
        raise NotifySettingsError(f"{where}: a {kind} notifier needs 'url' (https://…)")
    events = table.get("events", list(EVENTS[:-1]))
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise NotifySettingsError(f"{where}: 'events' must be a list of event names")
    bad = sorted(set(events) - set(EVENTS))
    if bad:
        raise NotifySettingsError(
            f"{where}: unknown event '{bad[0]}' (events: {', '.join(EVENTS[:-1])})"
        )
    try:
        timeout = float(table.get("timeout", 5.0))
    except (TypeError, ValueError):
        raise NotifySettingsError(f"{where}: 'timeout' must be a number of seconds") from None
    if not 0 < timeout <= 60:
        raise NotifySettingsError(f"{where}: 'timeout' must be between 0 and 60 seconds")
    return NotifierSpec(
        app=app,
        kind=kind,
        url=url,
        topic_arn=topic,
        secret_env=str(table.get("secret_env", "")),
        secret_ssm=str(table.get("secret_ssm", "")),
        events=tuple(events),
        name=str(table.get("name", "")),
        timeout_seconds=timeout,
    )
