"""What a notification says, and the three shapes it is sent in.

One `Notification` per rollout event; `webhook_body` is the signed JSON webhook's body,
`slack_body` the `text` + `blocks` payload Slack and Mattermost incoming webhooks take, and
`sns_message` the subject and message of an SNS publish. Every shape carries the app,
releases, rollout id, backend, duration and the command that rolls back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

SIGNATURE_HEADER = "X-Freshfleet-Signature"

_TITLES = {
    "started": "rollout started",
    "shifted": "traffic shifted",
    "bake_passed": "bake passed",
    "succeeded": "rollout succeeded",
    "failed": "rollout FAILED",
    "rolled_back": "rollout ROLLED BACK",
    "aborted": "rollout aborted",
    "lock_taken_over": "deploy lock taken over",
    "test": "test notification",
}
_ICONS = {
    "failed": ":x:",
    "rolled_back": ":rewind:",
    "aborted": ":no_entry:",
    "succeeded": ":white_check_mark:",
}


@dataclass(frozen=True, slots=True)
class Notification:
    """One thing the team hears about a rollout."""

    event: str
    app: str
    rollout_id: str
    from_release: str
    to_release: str
    strategy: str
    backend: str
    at: str  # ISO-8601 UTC
    duration_seconds: float = 0.0
    outcome: str = ""
    reason: str = ""
    who: str = ""
    plan_sha256: str = ""
    instance_id: str = ""
    last_phase: str = ""

    @property
    def rollback_command(self) -> str:
        return f"freshfleet rollback {self.app}"

    @property
    def summary(self) -> str:
        """One line: what happened to which app, from which release to which."""
        moved = f"{self.from_release or '(none)'} → {self.to_release}"
        return f"{self.app}: {_TITLES.get(self.event, self.event)} ({moved}, {self.strategy})"


def webhook_body(n: Notification) -> bytes:
    """The JSON webhook's body: the documented fields first, then the details."""
    body: dict[str, Any] = {
        "event": n.event,
        "app": n.app,
        "rollout_id": n.rollout_id,
        "from_release": n.from_release,
        "to_release": n.to_release,
        "strategy": n.strategy,
        "backend": n.backend,
        "outcome": n.outcome,
        "reason": n.reason,
        "duration_seconds": round(n.duration_seconds, 1),
        "at": n.at,
        "who": n.who,
        "plan_sha256": n.plan_sha256,
        "instance_id": n.instance_id,
        "last_phase": n.last_phase,
        "rollback_command": n.rollback_command,
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=False).encode()


def sign(body: bytes, secret: str) -> str:
    """The signature header's value: `sha256=` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _details(n: Notification) -> list[str]:
    lines = [f"rollout `{n.rollout_id}` on {n.backend}"]
    if n.who:
        lines.append(f"by {n.who}")
    if n.duration_seconds:
        lines.append(f"after {n.duration_seconds:.0f} s")
    if n.outcome:
        lines.append(n.outcome)
    if n.reason:
        lines.append(f"reason: {n.reason}")
    if n.instance_id:
        phase = f" (last boot phase: {n.last_phase})" if n.last_phase else ""
        lines.append(f"instance {n.instance_id}{phase}")
    if n.plan_sha256:
        lines.append(f"plan {n.plan_sha256[:12]}")
    lines.append(f"roll back: `{n.rollback_command}`")
    return lines


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn reads &, < and > as markup: a release note must not become a link.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(n: Notification) -> bytes:
    """A Slack-compatible incoming-webhook payload: `text` (the fallback) and `blocks`."""
    icon = _ICONS.get(n.event, ":rocket:")
    head = _slack_escape(f"{icon} {n.summary}")
    detail = "\n".join(_slack_escape(line) for line in _details(n))
    payload = {
        "text": head,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{head}*"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": detail}},
        ],
    }
    return json.dumps(payload).encode()


def sns_message(n: Notification) -> tuple[str, str]:
    """An SNS publish's Subject (under 100 characters, as SNS requires) and Message."""
    subject = f"freshfleet: {n.summary}"
    subject = subject if len(subject) < 100 else subject[:98] + "…"
    return subject, "\n".join([n.summary, *_details(n), "", webhook_body(n).decode()])
