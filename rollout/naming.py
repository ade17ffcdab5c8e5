"""Names and tags of freshfleet's AWS resources (ARCHITECTURE §3).

Conventions every part relies on (the localaws seed, `init`, the observer, rollouts):

- Per app, stable: a launch template named `freshfleet-<app>` (IMDSv2 required) and a
  traffic point — a listener (dedicated ALB) or a listener rule (shared ALB) — tagged
  `freshfleet:app=<app>`; its load balancer is tagged the same.
- Per rollout, a server group: an ASG and its own target group, both named
  `server_group_name(app, rollout_id)` and tagged with app, release and rollout (the ASG's
  tags propagate at launch, so instances carry them too), plus a launch-template version.
- Rollout ids sort by time: `YYYYMMDD-HHMMSS-xxxx` (UTC, 4 random hex digits).
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from rollout.model import TAG_APP, TAG_RELEASE, TAG_ROLLOUT

TARGET_GROUP_NAME_LIMIT = 32
ASG_NAME_LIMIT = 255
_ROLLOUT_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{4}$")
_APP_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")


def new_rollout_id(now: datetime | None = None) -> str:
    """A fresh time-sortable rollout id, e.g. `20261127-105500-a1b2`."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def is_rollout_id(value: str) -> bool:
    return bool(_ROLLOUT_ID.match(value))


def valid_app_name(name: str) -> bool:
    """Lower-case letters, digits and inner hyphens, 1–32 characters."""
    return bool(_APP_NAME.match(name))


def server_group_name(app: str, rollout_id: str, limit: int = TARGET_GROUP_NAME_LIMIT) -> str:
    """`<app>-<rollout id>` cut to `limit` by shortening the app part, never the rollout id.

    Target group names allow 32 characters of `[A-Za-z0-9-]` and must not start or end
    with a hyphen; the same limit is used for the ASG so both carry one name.
    """
    room = limit - len(rollout_id) - 1
    head = re.sub(r"[^A-Za-z0-9-]", "-", app)[: max(room, 1)].strip("-") or "app"
    return f"{head}-{rollout_id}"


def launch_template_name(app: str) -> str:
    return f"freshfleet-{app}"


def group_tags(app: str, release: str, rollout_id: str) -> dict[str, str]:
    """The tags of a server group's ASG and target group."""
    return {TAG_APP: app, TAG_RELEASE: release, TAG_ROLLOUT: rollout_id}


def asg_tag_list(app: str, release: str, rollout_id: str, asg_name: str) -> list[dict[str, object]]:
    """ASG `Tags=` entries, propagated at launch so every instance carries them."""
    return [
        {
            "ResourceId": asg_name,
            "ResourceType": "auto-scaling-group",
            "Key": k,
            "Value": v,
            "PropagateAtLaunch": True,
        }
        for k, v in group_tags(app, release, rollout_id).items()
    ]


def elb_tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]
