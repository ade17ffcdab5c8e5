"""Bad input gets a clear message, exit 2, and nothing in AWS; a held lock gets exit 3."""

from __future__ import annotations

import pytest


def _footprint(fleet):
    """Everything a refused deploy must leave exactly as it was."""
    ec2 = fleet.aws("ec2")
    template = ec2.describe_launch_templates(LaunchTemplateNames=["freshfleet-demo-web"])
    return {
        "groups": sorted(fleet.groups()),
        "target groups": sorted(
            t["TargetGroupArn"] for t in fleet.aws("elbv2").describe_target_groups()["TargetGroups"]
        ),
        "template version": template["LaunchTemplates"][0]["LatestVersionNumber"],
        "weights": fleet.weights(),
        "rollouts": len(fleet.rollouts()),
        "lock": fleet.lock(),
    }


BAD_VERSIONS = ["v2'", "v2;reboot", "$(id)", "v2\nRELEASE_URL=http://evil"]


def test_bad_input_is_refused_with_exit_2_and_nothing_created(fleet):
    before = _footprint(fleet)
    fleet.put_release("huge", url="https://releases.example.com/" + "a" * 17000 + ".tar.gz")
    fleet.put_release("v2-quote'", like="v2")  # a version that slipped past `release add`

    unknown = fleet.cli("deploy", "demo-web", "v9", "-y")
    assert unknown.code == 2 and "release 'v9' of demo-web is not in" in unknown.err

    big = fleet.cli("deploy", "demo-web", "huge", "-y")
    assert big.code == 2 and "over EC2's 16384-byte limit" in big.err.replace("\n", " ")

    for version in [*BAD_VERSIONS, "v2-quote'"]:
        run = fleet.cli("deploy", "demo-web", version, "-y")
        assert run.code == 2, (version, run.out, run.err)
        assert "may only hold letters, digits" in run.err.replace("\n", " ")

    app = fleet.cli("deploy", "no-such-app", "v1", "-y")
    assert app.code == 2 and "no listener" in app.err.replace("\n", " ")

    assert _footprint(fleet) == before


@pytest.mark.parametrize("force", [False, True])
def test_a_lock_by_hand_holds_deploys_off_until_unlocked(fleet, force):
    locked = fleet.cli("lock", "demo-web", "-m", "database migration")
    assert locked.code == 0, locked.err
    refused = fleet.cli("deploy", "demo-web", "v2", "-y")
    assert refused.code == 3
    assert "locked by" in refused.err and "database migration" in refused.err
    if force:
        # Someone else's lock: only --force takes it, and the takeover is on the record.
        db = fleet.aws("dynamodb")
        db.update_item(
            TableName=fleet.config.tables.locks,
            Key={"app": {"S": "demo-web"}},
            UpdateExpression="SET #o = :o",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":o": {"S": "alice@laptop:4242"}},
        )
        assert fleet.cli("unlock", "demo-web").code == 3
        assert fleet.cli("unlock", "demo-web", "--force").code == 0
        audit = db.query(
            TableName=fleet.config.tables.rollouts,
            KeyConditionExpression="app = :a",
            ExpressionAttributeValues={":a": {"S": "demo-web"}},
        )["Items"]
        assert any("alice@laptop:4242" in i.get("outcome", {}).get("S", "") for i in audit)
    else:
        assert fleet.cli("unlock", "demo-web").code == 0
    assert fleet.lock() is None
