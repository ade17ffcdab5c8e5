"""What the IAM documents scope, asserted on the JSON and played as attacks against it.

The coverage tests prove each role may make its calls; these prove what it may not. Each
attack is evaluated locally (`policy_eval`, IAM's documented logic) against `iam/*.json`:
a deployer must not tag someone else's target group, group, listener or rule into
freshfleet's reach, launch from a foreign launch template, or pass a role other than an
instance role; an instance must not read another app's release or secrets, nor write other
rows than boot reports.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from rollout.config import Tables
from rollout.readiness.iam_simulation import (
    POLICY_DIR,
    concrete_actions,
    policy_actions,
    simulations,
)
from tests.iam.policy_eval import Request, allowed

ACCOUNT = "123456789012"
REGION = "us-east-1"
TAG_APP = "freshfleet:app"
TAGGING = {"elasticloadbalancing:AddTags", "autoscaling:CreateOrUpdateTags", "ec2:CreateTags"}
CREATE_ACTION_KEYS = {"elasticloadbalancing:createaction", "ec2:createaction"}


def _doc(role: str, app: str = "") -> dict[str, Any]:
    text = (POLICY_DIR / f"{role}.json").read_text()
    return dict(json.loads(text.replace("APP", app) if app else text))


def _allows(statement: dict[str, Any], action: str) -> bool:
    listed = statement.get("Action", [])
    return statement["Effect"] == "Allow" and action in (
        [listed] if isinstance(listed, str) else listed
    )


def _statements(role: str, action: str) -> list[dict[str, Any]]:
    found = [s for s in _doc(role)["Statement"] if _allows(s, action)]
    assert found, f"{role}.json has no statement allowing {action}"
    return found


def _condition_keys(statement: dict[str, Any]) -> dict[str, Any]:
    """Condition key (lower case) -> (operator, values), for keys under one operator."""
    return {
        key.lower(): (operator, values)
        for operator, keys in statement.get("Condition", {}).items()
        for key, values in keys.items()
    }


def _resources(statement: dict[str, Any]) -> list[str]:
    listed = statement.get("Resource", [])
    return [listed] if isinstance(listed, str) else list(listed)


# --- the documents ----------------------------------------------------------------------


def test_every_tagging_statement_tags_only_as_a_resource_is_created_or_within_freshfleet() -> None:
    """No statement lets the deployer put `freshfleet:app` on a resource it did not make."""
    for action in sorted(TAGGING):
        for statement in _statements("deployer", action):
            keys = _condition_keys(statement)
            sid = statement["Sid"]
            if CREATE_ACTION_KEYS & set(keys):  # tags only as part of a create call
                continue
            if f"aws:resourcetag/{TAG_APP}" in keys and "*" not in _resources(statement):
                continue  # retags only resources that are already freshfleet's
            if action == "autoscaling:CreateOrUpdateTags":
                # Auto Scaling has no create-action key: only groups named as freshfleet names
                # a server group, and never one tagged for another app (IfExists).
                assert _resources(statement) == [
                    "arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/"
                    "*-2???????-??????-????"
                ], sid
                assert keys[f"aws:resourcetag/{TAG_APP}"][0] == "StringLikeIfExists", sid
                assert f"aws:requesttag/{TAG_APP}" in keys, sid
                continue
            # The one other: a shared ALB gets the app tag for discovery, and nothing else.
            assert action == "elasticloadbalancing:AddTags", sid
            assert _resources(statement) == [
                "arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*/*"
            ], sid
            assert keys["aws:tagkeys"] == ("ForAllValues:StringEquals", [TAG_APP]), sid


def test_a_load_balancers_own_tag_grants_nothing() -> None:
    """So marking a shared ALB for discovery does not put it in the deployer's hands."""
    lb_actions = (
        "elasticloadbalancing:DeleteLoadBalancer",
        "elasticloadbalancing:ModifyLoadBalancerAttributes",
        "elasticloadbalancing:SetSecurityGroups",
        "elasticloadbalancing:SetSubnets",
        "elasticloadbalancing:RemoveTags",
    )
    granted = [a for a in lb_actions if any(_allows(s, a) for s in _doc("deployer")["Statement"])]
    assert granted == []


def test_rules_are_added_only_to_listeners_tagged_for_the_app() -> None:
    for statement in _statements("deployer", "elasticloadbalancing:CreateRule"):
        keys = _condition_keys(statement)
        assert f"aws:resourcetag/{TAG_APP}" in keys, statement["Sid"]
        assert f"aws:requesttag/{TAG_APP}" in keys, statement["Sid"]
    for action in ("elasticloadbalancing:ModifyRule", "elasticloadbalancing:ModifyListener"):
        for statement in _statements("deployer", action):
            assert f"aws:resourcetag/{TAG_APP}" in _condition_keys(statement), action


def test_run_instances_is_scoped_to_freshfleets_tagged_launch_templates() -> None:
    template = "arn:aws:ec2:*:*:launch-template/*"
    on_template, the_rest = [], []
    for statement in _statements("deployer", "ec2:RunInstances"):
        keys = _condition_keys(statement)
        if statement.get("Resource") == template:
            assert keys[f"aws:resourcetag/{TAG_APP}"][0] == "StringLike"
            on_template.append(statement)
        else:
            # Everything else a launch makes, and only when it is made from a template.
            assert statement.get("NotResource") == template, statement["Sid"]
            assert keys["ec2:launchtemplate"] == ("Null", "false"), statement["Sid"]
            the_rest.append(statement)
    assert on_template and the_rest


def test_pass_role_hands_only_an_instance_role_and_only_to_ec2() -> None:
    for statement in _statements("deployer", "iam:PassRole"):
        assert _resources(statement) == ["arn:aws:iam::*:role/freshfleet-*-instance"]
        assert _condition_keys(statement)["iam:passedtoservice"] == (
            "StringEquals",
            "ec2.amazonaws.com",
        )


def test_the_instance_role_writes_boot_reports_keyed_by_instance_only() -> None:
    for action in ("dynamodb:PutItem", "dynamodb:UpdateItem"):
        for statement in _statements("instance-role", action):
            condition = statement["Condition"]
            # The key is the caller's own instance ARN, nothing wider.
            assert condition["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"] == [
                "${ec2:SourceInstanceARN}"
            ]
            assert "ForAllValues:StringLike" not in condition
            # ForAllValues holds on a missing key: the Null check makes the key required.
            assert condition["Null"]["dynamodb:LeadingKeys"] == "false"
            assert "dynamodb:Attributes" in condition["ForAllValues:StringEquals"]
            assert _resources(statement) == ["arn:aws:dynamodb:*:*:table/freshfleet-instances"]


def test_the_instance_role_reads_only_its_own_apps_releases_and_parameters() -> None:
    for statement in _statements("instance-role", "s3:GetObject"):
        assert _resources(statement) == ["arn:aws:s3:::freshfleet-releases-*/releases/APP/*"]
    for action in ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"):
        for statement in _statements("instance-role", action):
            assert all("/freshfleet/APP" in r for r in _resources(statement)), action


# --- the attacks, evaluated -------------------------------------------------------------

FOREIGN_TG = (
    f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/payments/0123456789abcdef"
)
SHOP_TG = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/shop-20261203-122000-ab12/1"
LISTENER = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:listener/app/edge/50dc6c495c0c9188/f2"
ALB = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/edge/50dc6c495c0c9188"
TEMPLATE = f"arn:aws:ec2:{REGION}:{ACCOUNT}:launch-template/lt-0123456789abcdef0"
INSTANCE = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/*"


def _group(name: str) -> str:
    return (
        f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:"
        f"7fe02b8e-7442-4c9e-8c8e-85fa99e9b5d9:autoScalingGroupName/{name}"
    )


def _tagging(app: str = "shop", *keys: str) -> dict[str, Any]:
    return {f"aws:RequestTag/{TAG_APP}": app, "aws:TagKeys": [TAG_APP, *keys]}


def _deployer(action: str, resource: str, **context: Any) -> bool:
    return allowed(_doc("deployer"), Request(action, resource, context))


def test_the_deployer_cannot_tag_a_foreign_target_group_into_its_reach() -> None:
    """The attack of 18.2: tag, then modify or delete. Both steps are denied."""
    assert not _deployer("elasticloadbalancing:AddTags", FOREIGN_TG, **_tagging())
    assert not _deployer("elasticloadbalancing:DeleteTargetGroup", FOREIGN_TG)
    assert not _deployer("elasticloadbalancing:ModifyTargetGroup", FOREIGN_TG)


def test_the_deployer_tags_what_it_creates() -> None:
    create = {**_tagging(), "elasticloadbalancing:CreateAction": "CreateTargetGroup"}
    assert _deployer("elasticloadbalancing:CreateTargetGroup", SHOP_TG, **_tagging())
    assert _deployer("elasticloadbalancing:AddTags", SHOP_TG, **create)
    # and, tagged, the group is the deployer's to change
    tagged = {f"aws:ResourceTag/{TAG_APP}": "shop"}
    assert _deployer("elasticloadbalancing:DeleteTargetGroup", SHOP_TG, **tagged)
    # a create call that would not carry the app tag does not tag either
    untagged = {"aws:TagKeys": ["team"], "elasticloadbalancing:CreateAction": "CreateTargetGroup"}
    assert not _deployer("elasticloadbalancing:AddTags", SHOP_TG, **untagged)


def test_the_deployer_cannot_tag_a_foreign_listener_or_rule() -> None:
    rule = LISTENER.replace(":listener/", ":listener-rule/") + "/9683b2d02a6cabee"
    for resource in (LISTENER, rule):
        assert not _deployer("elasticloadbalancing:AddTags", resource, **_tagging())
        assert not _deployer("elasticloadbalancing:ModifyListener", resource)
        assert not _deployer("elasticloadbalancing:ModifyRule", resource)


def test_a_shared_alb_gets_the_app_tag_and_nothing_more() -> None:
    assert _deployer("elasticloadbalancing:AddTags", ALB, **_tagging())
    assert not _deployer("elasticloadbalancing:AddTags", ALB, **_tagging("shop", "team"))
    assert not _deployer("elasticloadbalancing:AddTags", FOREIGN_TG, **_tagging())


def test_the_deployer_adds_rules_only_to_listeners_tagged_for_an_app() -> None:
    assert not _deployer("elasticloadbalancing:CreateRule", LISTENER, **_tagging())
    tagged = {**_tagging(), f"aws:ResourceTag/{TAG_APP}": "shop"}
    assert _deployer("elasticloadbalancing:CreateRule", LISTENER, **tagged)


def test_the_deployer_cannot_tag_a_foreign_auto_scaling_group() -> None:
    assert not _deployer("autoscaling:CreateOrUpdateTags", _group("payments-web"), **_tagging())
    assert not _deployer("autoscaling:UpdateAutoScalingGroup", _group("payments-web"))
    # A deployer confined to one app (iam/README.md: "*" in the tag conditions -> the app)
    # may not retag a server group of another app, tagged for it, into its own.
    text = json.dumps(_doc("deployer"))
    for key in (f"aws:RequestTag/{TAG_APP}", f"aws:ResourceTag/{TAG_APP}"):
        text = text.replace(f'"{key}": "*"', f'"{key}": "shop"')
    confined = json.loads(text)
    blog = {**_tagging(), f"aws:ResourceTag/{TAG_APP}": "blog"}
    its_group = _group("blog-20261203-122000-ab12")
    assert not allowed(confined, Request("autoscaling:CreateOrUpdateTags", its_group, blog))
    own = _group("shop-20261203-122000-ab12")
    assert allowed(confined, Request("autoscaling:CreateOrUpdateTags", own, _tagging()))


def test_the_deployer_tags_the_server_group_it_creates() -> None:
    name = _group("shop-20261203-122000-ab12")
    assert _deployer("autoscaling:CreateAutoScalingGroup", name, **_tagging())
    assert _deployer("autoscaling:CreateOrUpdateTags", name, **_tagging())


def test_the_deployer_launches_only_from_freshfleet_launch_templates() -> None:
    ours = {f"aws:ResourceTag/{TAG_APP}": "shop", "ec2:LaunchTemplate": TEMPLATE}
    assert _deployer("ec2:RunInstances", TEMPLATE, **ours)
    assert _deployer("ec2:RunInstances", INSTANCE, **ours)
    foreign = {"ec2:LaunchTemplate": TEMPLATE}  # a template without the app tag
    assert not _deployer("ec2:RunInstances", TEMPLATE, **foreign)
    assert not _deployer("ec2:RunInstances", INSTANCE)  # no template at all


def test_the_deployer_passes_only_an_instance_role_and_only_to_ec2() -> None:
    to_ec2 = {"iam:PassedToService": "ec2.amazonaws.com"}
    role = f"arn:aws:iam::{ACCOUNT}:role/"
    assert _deployer("iam:PassRole", role + "freshfleet-shop-instance", **to_ec2)
    assert not _deployer("iam:PassRole", role + "freshfleet-deployer", **to_ec2)
    assert not _deployer("iam:PassRole", role + "admin", **to_ec2)
    to_lambda = {"iam:PassedToService": "lambda.amazonaws.com"}
    assert not _deployer("iam:PassRole", role + "freshfleet-shop-instance", **to_lambda)


def _instance(action: str, resource: str, **context: Any) -> bool:
    return allowed(_doc("instance-role", app="shop"), Request(action, resource, context))


def test_an_instance_reads_only_its_own_apps_release_and_parameters() -> None:
    bucket = "arn:aws:s3:::freshfleet-releases-123456789012-us-east-1/releases"
    assert _instance("s3:GetObject", f"{bucket}/shop/v1/release.tar.gz")
    assert not _instance("s3:GetObject", f"{bucket}/blog/v1/release.tar.gz")
    parameter = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/freshfleet"
    assert _instance("ssm:GetParametersByPath", f"{parameter}/shop")
    assert _instance("ssm:GetParameter", f"{parameter}/shop/DATABASE_URL")
    assert not _instance("ssm:GetParameter", f"{parameter}/blog/DATABASE_URL")
    assert not _instance("ssm:GetParameter", f"{parameter}/notify/webhook-secret")


BOOT_REPORT = [
    "instance_arn", "instance_id", "app", "release", "rollout", "phase", "status", "detail",
    "updated_at",
]  # fmt: skip
INSTANCES_TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/freshfleet-instances"
INSTANCE_A = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0aaaaaaaaaaaaaaaa"
INSTANCE_B = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0bbbbbbbbbbbbbbbb"


def _report_as(
    session_instance: str | None, *keys: str, attributes: list[str] = BOOT_REPORT
) -> dict[str, Any]:
    """A boot report's PutItem context from a role session on `session_instance` (None:
    credentials used where no instance is the source) writing items keyed `keys`."""
    context: dict[str, Any] = {"dynamodb:LeadingKeys": list(keys)}
    context["dynamodb:Attributes"] = attributes
    if session_instance is not None:
        context["ec2:SourceInstanceARN"] = session_instance
    return context


def test_an_instance_cannot_overwrite_another_instances_boot_report() -> None:
    """Instance A's role session writes its own item, never B's (of the same app and
    rollout), nor one under a bare instance id, nor any without an instance behind it."""
    for action in ("dynamodb:PutItem", "dynamodb:UpdateItem"):
        # B's item, by its bare id (the report as it was keyed before) or its ARN: refused.
        old_report = [a for a in BOOT_REPORT if a != "instance_arn"]
        by_id = _report_as(INSTANCE_A, "i-0bbbbbbbbbbbbbbbb", attributes=old_report)
        assert not _instance(action, INSTANCES_TABLE, **by_id)
        assert not _instance(action, INSTANCES_TABLE, **_report_as(INSTANCE_A, INSTANCE_B))
        assert not _instance(
            action, INSTANCES_TABLE, **_report_as(INSTANCE_A, INSTANCE_A, INSTANCE_B)
        )
        assert not _instance(action, INSTANCES_TABLE, **_report_as(None, INSTANCE_B))
        # Its own: allowed.
        assert _instance(action, INSTANCES_TABLE, **_report_as(INSTANCE_A, INSTANCE_A))


def test_an_instance_writes_boot_reports_and_no_other_row() -> None:
    table = INSTANCES_TABLE
    report = _report_as(INSTANCE_A, INSTANCE_A)
    assert _instance("dynamodb:PutItem", table, **report)
    other_row = {**report, "dynamodb:LeadingKeys": ["shop#lock"]}
    assert not _instance("dynamodb:PutItem", table, **other_row)
    more = {**report, "dynamodb:Attributes": [*BOOT_REPORT, "owner"]}
    assert not _instance("dynamodb:PutItem", table, **more)
    ledger = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/freshfleet-rollouts"
    assert not _instance("dynamodb:PutItem", ledger, **report)


@pytest.mark.parametrize("role", ["deployer", "readonly"])
def test_what_doctor_asks_the_simulator_is_allowed_by_the_documents(role: str) -> None:
    """Doctor's requests (resources and context) meet the policies' conditions, so doctor
    on a correctly set-up account reports no denial."""
    requests = simulations(
        concrete_actions(policy_actions(role)),
        caller_arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/freshfleet-deployer/alice",
        region=REGION,
        tables=Tables(),
        app="shop",
    )
    doc = _doc(role)
    denied = []
    for request in requests:
        context = {e["ContextKeyName"]: e["ContextKeyValues"] for e in request.context}
        for action in request.actions:
            if not allowed(doc, Request(action, request.resource, context)):
                denied.append(f"{action} on {request.resource}")
    assert denied == []
