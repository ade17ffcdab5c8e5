"""A listener guarded by sign-in stays guarded through a deploy: the shift changes only the
forward's target groups, and every other action (an OIDC sign-in before the forward, a
fixed-response maintenance rule), their Order and the forward's stickiness survive."""

from __future__ import annotations

import urllib.error
import urllib.request

OIDC = {
    "Issuer": "https://idp.example.com",
    "AuthorizationEndpoint": "https://idp.example.com/authorize",
    "TokenEndpoint": "https://idp.example.com/token",
    "UserInfoEndpoint": "https://idp.example.com/userinfo",
    "ClientId": "demo-web",
    "ClientSecret": "s3cret",
}
STICKY = {"Enabled": True, "DurationSeconds": 3600}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def _status(url: str) -> tuple[int, str]:
    """(status, Location) of a GET, redirects not followed."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=10) as resp:
            return resp.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", "")


def test_a_deploy_keeps_the_sign_in_the_maintenance_rule_and_stickiness(fleet):
    elb = fleet.aws("elbv2")
    listener = fleet.listener()
    (v1,) = [g["tg"] for g in fleet.groups().values()]
    elb.modify_listener(
        ListenerArn=listener["ListenerArn"],
        DefaultActions=[
            {"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": OIDC},
            {
                "Type": "forward",
                "Order": 2,
                "ForwardConfig": {
                    "TargetGroups": [{"TargetGroupArn": v1, "Weight": 100}],
                    "TargetGroupStickinessConfig": STICKY,
                },
            },
        ],
    )
    maintenance = elb.create_rule(
        ListenerArn=listener["ListenerArn"],
        Priority=5,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/maintenance"]}}],
        Actions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "503", "MessageBody": "back soon"},
            }
        ],
    )["Rules"][0]["RuleArn"]
    (lb,) = elb.describe_load_balancers(LoadBalancerArns=[listener["LoadBalancerArn"]])[
        "LoadBalancers"
    ]
    url = f"http://{lb['DNSName']}:{listener['Port']}/"
    assert _status(url) == (302, OIDC["AuthorizationEndpoint"])  # signed-out users sign in

    run = fleet.cli("deploy", "demo-web", "v2", "-y", "--bake", "1")
    assert run.code == 0, run.out + run.err
    assert fleet.serving() == {"v2": 100}

    actions = sorted(fleet.listener()["DefaultActions"], key=lambda a: a["Order"])
    assert [(a["Type"], a["Order"]) for a in actions] == [
        ("authenticate-oidc", 1),
        ("forward", 2),
    ]
    kept = {k: v for k, v in OIDC.items() if k != "ClientSecret"}  # never described
    assert {k: actions[0]["AuthenticateOidcConfig"].get(k) for k in kept} == kept
    assert actions[1]["ForwardConfig"]["TargetGroupStickinessConfig"] == STICKY
    rule = elb.describe_rules(RuleArns=[maintenance])["Rules"][0]
    assert rule["Actions"][0]["FixedResponseConfig"]["MessageBody"] == "back soon"
    # Signed-out users still sign in first: the shift let no request past the sign-in.
    assert _status(url) == (302, OIDC["AuthorizationEndpoint"])
    assert _status(url + "maintenance")[0] == 503
