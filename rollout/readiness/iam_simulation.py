"""Does the caller have a role's permissions? IAM's policy simulator, asked as AWS would ask.

The policies in `iam/*.json` scope most actions by resource name (`freshfleet-*` tables and
buckets, `freshfleet-*` roles) and by the `freshfleet:app` tag. The simulator only allows
such an action when it is asked about a matching resource with the matching context, so
each action is simulated on the resource freshfleet would touch, with the tag, create-action
and passed-to-service context keys a real call carries (tagging is allowed only as a resource
is created, so the context says which create action tags).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollout.config import Tables
from rollout.model import TAG_APP
from rollout.naming import server_group_name


def policy_dir() -> Path:
    """Where the IAM policy documents are: `iam/` at the top of the source tree, else where
    a wheel installs them (`<prefix>/share/freshfleet/iam`, pyproject's data-files)."""
    source = Path(__file__).resolve().parents[2] / "iam"
    if (source / "deployer.json").is_file():
        return source
    return Path(sys.prefix) / "share" / "freshfleet" / "iam"


POLICY_DIR = policy_dir()
# The simulator takes concrete actions: a wildcard stands for the calls freshfleet makes most.
WILDCARD_EXAMPLES = {
    "ec2:Describe*": ("ec2:DescribeInstances", "ec2:DescribeLaunchTemplateVersions"),
    "elasticloadbalancing:Describe*": (
        "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:DescribeListeners",
    ),
    "autoscaling:Describe*": ("autoscaling:DescribeAutoScalingGroups",),
}
_ANY_RESOURCE = "*"


def policy_actions(role: str, policy_dir: Path = POLICY_DIR) -> list[str]:
    """The IAM actions a role's policy document allows (wildcards kept as written).

    Raises OSError when the document is not there (an install without the source tree).
    """
    doc = json.loads((policy_dir / f"{role}.json").read_text())
    actions: list[str] = []
    for statement in doc.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        listed = statement.get("Action", [])
        for action in [listed] if isinstance(listed, str) else listed:
            if action not in actions:
                actions.append(action)
    return actions


def concrete_actions(actions: Sequence[str]) -> list[str]:
    """Wildcards replaced by the concrete actions that stand for them."""
    out: list[str] = []
    for action in actions:
        out.extend(WILDCARD_EXAMPLES.get(action, (action,)) if "*" in action else (action,))
    return out


def principal_arn(caller_arn: str) -> str:
    """The IAM principal behind a caller: an assumed-role session becomes its role's ARN."""
    head, _, rest = caller_arn.partition(":assumed-role/")
    if not rest:
        return caller_arn
    parts = head.split(":")
    partition = parts[1] if len(parts) > 1 else "aws"
    return f"arn:{partition}:iam::{parts[-1]}:role/{rest.split('/')[0]}"


@dataclass(frozen=True, slots=True)
class Simulation:
    """One SimulatePrincipalPolicy request: these actions on this resource."""

    resource: str
    actions: tuple[str, ...]
    context: tuple[dict[str, Any], ...] = field(default=())

    def params(self, principal: str) -> dict[str, Any]:
        params: dict[str, Any] = {
            "PolicySourceArn": principal,
            "ActionNames": list(self.actions),
            "ContextEntries": list(self.context),
        }
        if self.resource != _ANY_RESOURCE:
            params["ResourceArns"] = [self.resource]
        return params


def simulations(
    actions: Sequence[str],
    *,
    caller_arn: str,
    region: str,
    tables: Tables,
    app: str = "",
    instance_role_arn: str = "",
) -> list[Simulation]:
    """The requests that check `actions` for `caller_arn`, grouped by the resource each needs."""
    parts = caller_arn.split(":")
    partition = parts[1] if len(parts) > 4 else "aws"
    account = parts[4] if len(parts) > 4 else ""
    bucket = f"freshfleet-releases-{account}-{region}".lower()
    name = app or "app"
    table = f"arn:{partition}:dynamodb:{region}:{account}:table/{tables.releases}"
    template = f"arn:{partition}:ec2:{region}:{account}:launch-template/lt-0123456789abcdef0"
    group = server_group_name(name, "20261127-105500-a1b2")
    resource_of = {
        "s3:CreateBucket": f"arn:{partition}:s3:::{bucket}",
        "s3:ListBucket": f"arn:{partition}:s3:::{bucket}",
        "s3:PutObject": f"arn:{partition}:s3:::{bucket}/releases/{name}/v1/release.tar.gz",
        "s3:GetObject": f"arn:{partition}:s3:::{bucket}/releases/{name}/v1/release.tar.gz",
        "iam:PassRole": instance_role_arn
        or f"arn:{partition}:iam::{account}:role/freshfleet-{name}-instance",
        # AWS checks RunInstances on the launch template an ASG launches from (and on the
        # instance it makes); tagging at CreateAutoScalingGroup is checked on the new group.
        "ec2:RunInstances": template,
        "autoscaling:CreateOrUpdateTags": f"arn:{partition}:autoscaling:{region}:{account}:"
        f"autoScalingGroup:00000000-0000-4000-8000-000000000000:autoScalingGroupName/{group}",
        # notifiers: a `freshfleet-*` topic, a signing secret under /freshfleet/notify/
        "sns:Publish": f"arn:{partition}:sns:{region}:{account}:freshfleet-{name}",
        "ssm:GetParameter": f"arn:{partition}:ssm:{region}:{account}:parameter"
        f"/freshfleet/notify/{name}-webhook",
    }
    context = (
        _entry(f"aws:RequestTag/{TAG_APP}", name),
        _entry(f"aws:ResourceTag/{TAG_APP}", name),
        _entry("aws:TagKeys", TAG_APP, kind="stringList"),
        _entry("ec2:CreateAction", "RunInstances"),
        _entry("elasticloadbalancing:CreateAction", "CreateTargetGroup"),
        _entry("ec2:LaunchTemplate", template),
        _entry("iam:PassedToService", "ec2.amazonaws.com"),
        _entry("iam:AWSServiceName", "autoscaling.amazonaws.com"),
    )
    grouped: dict[str, list[str]] = {}
    for action in concrete_actions(actions):
        if action in resource_of:
            resource = resource_of[action]
        elif action.startswith("dynamodb:") and action != "dynamodb:ListTables":
            resource = table
        else:
            resource = _ANY_RESOURCE
        grouped.setdefault(resource, []).append(action)
    return [Simulation(r, tuple(a), context) for r, a in grouped.items()]


def _entry(key: str, value: str, *, kind: str = "string") -> dict[str, Any]:
    return {"ContextKeyName": key, "ContextKeyValues": [value], "ContextKeyType": kind}


def denied_actions(results: Sequence[dict[str, Any]]) -> list[str]:
    """The actions of simulator results whose decision is not `allowed`."""
    return sorted(str(r["EvalActionName"]) for r in results if r.get("EvalDecision") != "allowed")
