"""The local evaluator follows IAM's documented logic on the cases the attack tests rely on."""

from __future__ import annotations

from typing import Any

import pytest

from tests.iam.policy_eval import Request, allowed


def _one(statement: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **statement}]}


def test_actions_match_case_insensitively_and_resources_by_wildcards() -> None:
    policy = _one({"Action": "ec2:Describe*", "Resource": "arn:aws:s3:::b/releases/?/*"})
    assert allowed(policy, Request("EC2:describeinstances", "arn:aws:s3:::b/releases/a/x"))
    assert not allowed(policy, Request("ec2:RunInstances", "arn:aws:s3:::b/releases/a/x"))
    assert not allowed(policy, Request("ec2:DescribeInstances", "arn:aws:s3:::b/releases/ab/x"))


def test_not_resource_matches_everything_else() -> None:
    policy = _one(
        {"Action": "ec2:RunInstances", "NotResource": "arn:aws:ec2:*:*:launch-template/*"}
    )
    assert allowed(policy, Request("ec2:RunInstances", "arn:aws:ec2:r:1:instance/*"))
    assert not allowed(policy, Request("ec2:RunInstances", "arn:aws:ec2:r:1:launch-template/lt-1"))


def test_a_missing_key_fails_a_condition_unless_if_exists_negated_or_for_all_values() -> None:
    def holds(condition: dict[str, Any], **context: Any) -> bool:
        policy = _one({"Action": "*", "Resource": "*", "Condition": condition})
        return allowed(policy, Request("s3:GetObject", "x", context))

    assert not holds({"StringLike": {"aws:RequestTag/a": "*"}})
    assert holds({"StringLike": {"aws:RequestTag/a": "*"}}, **{"aws:requesttag/a": "v"})
    assert holds({"StringLikeIfExists": {"aws:ResourceTag/a": "shop"}})
    assert not holds(
        {"StringLikeIfExists": {"aws:ResourceTag/a": "shop"}}, **{"aws:ResourceTag/a": "blog"}
    )
    assert holds({"StringNotEquals": {"k": "v"}})
    assert holds({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}})  # IAM's known pitfall
    assert not holds({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}})
    assert holds({"Null": {"k": "true"}}) and not holds({"Null": {"k": "false"}})
    assert not holds(
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}, **{"aws:TagKeys": ["a", "b"]}
    )


def test_policy_variables_take_the_requests_value() -> None:
    policy = _one(
        {"Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:PrincipalTag/app}/*"}
    )
    assert allowed(
        policy, Request("s3:GetObject", "arn:aws:s3:::b/shop/x", {"aws:PrincipalTag/app": "shop"})
    )
    assert not allowed(policy, Request("s3:GetObject", "arn:aws:s3:::b/shop/x"))  # unresolved


def test_an_explicit_deny_wins_and_an_unknown_operator_raises() -> None:
    policy = {
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "iam:*", "Resource": "*"},
        ]
    }
    assert allowed(policy, Request("s3:GetObject", "x"))
    assert not allowed(policy, Request("iam:PassRole", "x"))
    odd = _one({"Action": "*", "Resource": "*", "Condition": {"DateGreaterThan": {"k": "1"}}})
    with pytest.raises(NotImplementedError):
        allowed(odd, Request("s3:GetObject", "x", {"k": "2"}))
