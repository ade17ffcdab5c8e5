"""Listener and rule actions are lists kept whole, checked and counted as ELB does.

AWS documentation followed (Elastic Load Balancing, Application Load Balancers):
- "Action types for listener rules": each list holds exactly one routing action (forward,
  redirect or fixed-response) and it is the last performed; authentication comes before it,
  ordered by `Order`.
- API reference, ModifyListener / ModifyRule: "To add an item to a list, remove an item from
  a list, or update an item in a list, you must provide the entire list."
- API reference, AuthenticateOidcActionConfig: the ClientSecret is required on create and,
  on a modify, may be left out with UseExistingClientSecret; Describe* never return it.
- "Quotas for your Application Load Balancers": target groups per action 5, target groups
  per ALB 100, targets per ALB 1,000 (adjustable); DescribeAccountLimits names them.

Patches: ELBv2Backend.create_listener, .modify_listener, .create_rule, .modify_rule,
.register_targets, ELBV2Response.describe_account_limits, LaunchTemplate.tags (added).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localaws.process import LocalAws
from localaws.testing import boto3_client, start_test_localaws

OIDC = {
    "Issuer": "https://idp.example.com",
    "AuthorizationEndpoint": "https://idp.example.com/authorize",
    "TokenEndpoint": "https://idp.example.com/token",
    "UserInfoEndpoint": "https://idp.example.com/userinfo",
    "ClientId": "freshfleet",
}


def _fixed(order: int | None = None, code: str = "503") -> dict[str, Any]:
    action: dict[str, Any] = {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": code}}
    if order is not None:
        action["Order"] = order
    return action


def _forward(*groups: str, order: int | None = None, sticky: bool = False) -> dict[str, Any]:
    config: dict[str, Any] = {"TargetGroups": [{"TargetGroupArn": g, "Weight": 1} for g in groups]}
    if sticky:
        config["TargetGroupStickinessConfig"] = {"Enabled": True, "DurationSeconds": 600}
    action: dict[str, Any] = {"Type": "forward", "ForwardConfig": config}
    if order is not None:
        action["Order"] = order
    return action


def _oidc(order: int = 1, **config: Any) -> dict[str, Any]:
    return {
        "Type": "authenticate-oidc",
        "Order": order,
        "AuthenticateOidcConfig": {**OIDC, **config},
    }


def _balancer(aws: Callable[..., Any], url: str | None = None) -> tuple[str, str]:
    ec2, elb = aws("ec2", url), aws("elbv2", url)
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2]]
    lb = elb.create_load_balancer(Name=f"contract-{uuid.uuid4().hex[:8]}", Subnets=subnets)
    arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
    listener = elb.create_listener(
        LoadBalancerArn=arn, Protocol="HTTP", Port=80, DefaultActions=[_fixed()]
    )
    return arn, listener["Listeners"][0]["ListenerArn"]


def _default_actions(elb: Any, listener: str) -> list[dict[str, Any]]:
    got = elb.describe_listeners(ListenerArns=[listener])["Listeners"][0]["DefaultActions"]
    return sorted(got, key=lambda a: a.get("Order", 0))


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_a_listener_keeps_every_action_and_a_modify_replaces_the_whole_list(
    aws_client: Callable[..., Any], target_group: Callable[..., str]
) -> None:
    elb = aws_client("elbv2")
    _, listener = _balancer(aws_client)
    tg = target_group()
    elb.modify_listener(
        ListenerArn=listener,
        DefaultActions=[_oidc(1, ClientSecret="s3cret"), _forward(tg, order=2, sticky=True)],
    )
    actions = _default_actions(elb, listener)
    assert [(a["Type"], a["Order"]) for a in actions] == [
        ("authenticate-oidc", 1),
        ("forward", 2),
    ]
    assert actions[1]["ForwardConfig"]["TargetGroupStickinessConfig"] == {
        "Enabled": True,
        "DurationSeconds": 600,
    }
    # The whole list is replaced: an action left out is gone.
    elb.modify_listener(ListenerArn=listener, DefaultActions=[_forward(tg)])
    assert [a["Type"] for a in _default_actions(elb, listener)] == ["forward"]


def test_a_rule_keeps_every_action_and_a_modify_replaces_the_whole_list(
    aws_client: Callable[..., Any], target_group: Callable[..., str]
) -> None:
    elb = aws_client("elbv2")
    _, listener = _balancer(aws_client)
    tg = target_group()
    rule = elb.create_rule(
        ListenerArn=listener,
        Priority=10,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/app/*"]}}],
        Actions=[_oidc(1, ClientSecret="s3cret"), _forward(tg, order=2)],
    )["Rules"][0]["RuleArn"]
    got = elb.describe_rules(RuleArns=[rule])["Rules"][0]["Actions"]
    assert sorted((a["Type"], a["Order"]) for a in got) == [
        ("authenticate-oidc", 1),
        ("forward", 2),
    ]
    elb.modify_rule(RuleArn=rule, Actions=[_fixed()])
    assert [a["Type"] for a in elb.describe_rules(RuleArns=[rule])["Rules"][0]["Actions"]] == [
        "fixed-response"
    ]


@pytest.mark.parametrize(
    "actions",
    [
        pytest.param(lambda tg: [_forward(tg, order=1), _fixed(order=2)], id="two-routing"),
        pytest.param(lambda tg: [_forward(tg, order=1), _oidc(2, ClientSecret="x")], id="not-last"),
        pytest.param(lambda tg: [_oidc(1, ClientSecret="x")], id="no-routing"),
        pytest.param(lambda tg: [_oidc(1, ClientSecret="x"), _forward(tg)], id="no-order"),
    ],
)
def test_an_action_list_without_one_routing_action_last_is_refused(
    aws_client: Callable[..., Any],
    target_group: Callable[..., str],
    actions: Callable[[str], list[dict[str, Any]]],
) -> None:
    elb = aws_client("elbv2")
    _, listener = _balancer(aws_client)
    with pytest.raises(ClientError) as exc:
        elb.modify_listener(ListenerArn=listener, DefaultActions=actions(target_group()))
    assert _code(exc) == "InvalidLoadBalancerAction"
    assert [a["Type"] for a in _default_actions(elb, listener)] == ["fixed-response"]


def test_the_oidc_client_secret_is_never_described_and_kept_by_use_existing(
    aws_client: Callable[..., Any], target_group: Callable[..., str]
) -> None:
    elb = aws_client("elbv2")
    _, listener = _balancer(aws_client)
    tg = target_group()
    with pytest.raises(ClientError) as exc:  # a new OIDC action needs its secret
        elb.modify_listener(ListenerArn=listener, DefaultActions=[_oidc(1), _forward(tg, order=2)])
    assert _code(exc) == "InvalidLoadBalancerAction"

    elb.modify_listener(
        ListenerArn=listener,
        DefaultActions=[_oidc(1, ClientSecret="s3cret"), _forward(tg, order=2)],
    )
    described = _default_actions(elb, listener)[0]["AuthenticateOidcConfig"]
    assert "ClientSecret" not in described and described["ClientId"] == "freshfleet"

    # Written back as described, the secret is kept only when asked for.
    with pytest.raises(ClientError) as exc:
        elb.modify_listener(ListenerArn=listener, DefaultActions=_default_actions(elb, listener))
    assert _code(exc) == "InvalidLoadBalancerAction"
    again = _default_actions(elb, listener)
    again[0]["AuthenticateOidcConfig"]["UseExistingClientSecret"] = True
    elb.modify_listener(ListenerArn=listener, DefaultActions=again)
    assert [a["Type"] for a in _default_actions(elb, listener)] == ["authenticate-oidc", "forward"]


def test_a_forward_names_at_most_five_target_groups(
    aws_client: Callable[..., Any], target_group: Callable[..., str]
) -> None:
    elb = aws_client("elbv2")
    _, listener = _balancer(aws_client)
    groups = [target_group() for _ in range(6)]
    elb.modify_listener(ListenerArn=listener, DefaultActions=[_forward(*groups[:5])])
    with pytest.raises(ClientError) as exc:
        elb.modify_listener(ListenerArn=listener, DefaultActions=[_forward(*groups)])
    assert _code(exc) == "TooManyTargetGroups"


def test_a_load_balancer_forwards_to_at_most_100_target_groups(empty_localaws: LocalAws) -> None:
    def aws(service: str, url: str | None = None) -> Any:
        return boto3_client(service, empty_localaws.url)

    ec2, elb = aws("ec2"), aws("elbv2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    groups = [
        elb.create_target_group(Name=f"many-{i}", Protocol="HTTP", Port=80, VpcId=vpc)[
            "TargetGroups"
        ][0]["TargetGroupArn"]
        for i in range(101)
    ]
    _, listener = _balancer(aws)
    elb.modify_listener(ListenerArn=listener, DefaultActions=[_forward(*groups[:5])])
    for i, start in enumerate(range(5, 100, 5)):  # 19 rules of 5: 100 groups in all
        elb.create_rule(
            ListenerArn=listener,
            Priority=i + 1,
            Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": [f"/{i}"]}}],
            Actions=[_forward(*groups[start : start + 5])],
        )
    with pytest.raises(ClientError) as exc:
        elb.create_rule(
            ListenerArn=listener,
            Priority=99,
            Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/last"]}}],
            Actions=[_forward(groups[100])],
        )
    assert _code(exc) == "TooManyUniqueTargetGroupsPerLoadBalancer"
    # A group already forwarded to counts once.
    elb.create_rule(
        ListenerArn=listener,
        Priority=98,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/again"]}}],
        Actions=[_forward(groups[0])],
    )


@pytest.fixture(scope="module")
def small_quota_localaws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    """A localaws whose account has had its targets-per-ALB quota set to 4."""
    env = {"FRESHFLEET_LOCALAWS__TARGETS_PER_ALB": "4"}
    with start_test_localaws(tmp_path_factory.mktemp("quota"), seed=False, env=env) as handle:
        yield handle


def test_describe_account_limits_answers_with_aws_names_and_quotas(
    aws_client: Callable[..., Any], small_quota_localaws: LocalAws
) -> None:
    limits = {
        lim["Name"]: lim["Max"] for lim in aws_client("elbv2").describe_account_limits()["Limits"]
    }
    assert limits["targets-per-application-load-balancer"] == "1000"
    assert limits["target-groups-per-application-load-balancer"] == "100"
    assert limits["target-groups-per-action-on-application-load-balancer"] == "5"
    assert limits["application-load-balancers"] == "50"
    adjusted = boto3_client("elbv2", small_quota_localaws.url).describe_account_limits()
    assert {"Name": "targets-per-application-load-balancer", "Max": "4"} in adjusted["Limits"]


def test_targets_per_load_balancer_stop_at_the_accounts_quota(
    small_quota_localaws: LocalAws, tmp_path: Path
) -> None:
    def aws(service: str, url: str | None = None) -> Any:
        return boto3_client(service, small_quota_localaws.url)

    ec2, elb = aws("ec2"), aws("elbv2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]

    def group(*ids: str) -> str:
        arn = elb.create_target_group(
            Name=f"quota-{uuid.uuid4().hex[:8]}", Protocol="HTTP", Port=80, VpcId=vpc
        )["TargetGroups"][0]["TargetGroupArn"]
        if ids:
            elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": i} for i in ids])
        return str(arn)

    blue = group("i-00000000000000b01", "i-00000000000000b02", "i-00000000000000b03")
    _, listener = _balancer(aws)
    elb.modify_listener(ListenerArn=listener, DefaultActions=[_forward(blue)])
    elb.register_targets(TargetGroupArn=blue, Targets=[{"Id": "i-00000000000000b04"}])
    with pytest.raises(ClientError) as exc:  # a fifth target on the load balancer
        elb.register_targets(TargetGroupArn=blue, Targets=[{"Id": "i-00000000000000b05"}])
    assert _code(exc) == "TooManyTargets"

    green = group("i-00000000000000a01")  # outside any listener: no quota of an ALB
    with pytest.raises(ClientError) as exc:  # blue-green: old + new on one load balancer
        elb.modify_listener(ListenerArn=listener, DefaultActions=[_forward(blue, green)])
    assert _code(exc) == "TooManyTargets"


def test_launch_templates_show_the_tags_added_after_their_creation(
    aws_client: Callable[..., Any],
) -> None:
    ec2 = aws_client("ec2")
    name = f"contract-lt-{uuid.uuid4().hex[:12]}"
    template = ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={"ImageId": "ami-03cf127a"},
        TagSpecifications=[
            {"ResourceType": "launch-template", "Tags": [{"Key": "freshfleet:app", "Value": "x"}]}
        ],
    )["LaunchTemplate"]
    ec2.create_tags(
        Resources=[template["LaunchTemplateId"]],
        Tags=[{"Key": "freshfleet:listener", "Value": "arn:aws:elasticloadbalancing:l"}],
    )
    got = ec2.describe_launch_templates(LaunchTemplateNames=[name])["LaunchTemplates"][0]
    tags = {t["Key"]: t["Value"] for t in got["Tags"]}
    assert tags == {"freshfleet:app": "x", "freshfleet:listener": "arn:aws:elasticloadbalancing:l"}
    ec2.delete_launch_template(LaunchTemplateName=name)
