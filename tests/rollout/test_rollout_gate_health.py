"""The gate on ELB's own semantics: ELB health-checks only target groups a listener forwards
to (the others' targets stay `unused`, Target.NotInUse), so a rollout puts its new group in
the app's forward action at weight 0 before the gate, and the shift changes only weights
(docs/ARCHITECTURE.md §4, step 2)."""

from __future__ import annotations

from typing import Any


def _arn(instance_id: str) -> str:
    """An instance's key in the instances table (its ARN, in localaws's account)."""
    return f"arn:aws:ec2:us-east-1:123456789012:instance/{instance_id}"


def _gate_running(fleet: Any) -> bool:
    steps = fleet.latest().get("steps", []) if fleet.rollouts() else []
    return bool(steps) and steps[-1]["name"] == "gate" and steps[-1]["status"] == "running"


def test_blue_green_v2_is_checked_at_weight_0_through_its_gate_and_passes_it(slow_fleet, until):
    fleet = slow_fleet
    (v1_name, v1), *_ = fleet.groups().items()
    deploy = fleet.spawn("deploy", "demo-web", "v2", "-y")
    seen: set[str] = set()
    try:
        until(lambda: _gate_running(fleet), within=60, what="the gate to start")
        new_tg = next(g["tg"] for name, g in fleet.groups().items() if name != v1_name)
        # In the listener, out of traffic: v1 keeps everything.
        assert fleet.weights() == {v1["tg"]: 100, new_tg: 0}
        assert fleet.serving() == {"v1": 100}

        def gated() -> bool:
            health = fleet.aws("elbv2").describe_target_health(TargetGroupArn=new_tg)
            seen.update(d["TargetHealth"]["State"] for d in health["TargetHealthDescriptions"])
            return not _gate_running(fleet)

        until(gated, within=60, what="the gate to end")
    finally:
        out, err = deploy.communicate(timeout=120)

    assert deploy.returncode == 0, out + err
    assert "unused" not in seen  # ELB checked the new group from the start
    assert "initial" in seen or "healthy" in seen
    rollout = fleet.latest()
    assert rollout["state"] == "succeeded", rollout["reason"]
    flips = [h["weights"] for h in rollout["weights_history"]]
    new = rollout["new_group"]
    assert flips == [{v1_name: 100, new: 0}, {new: 100, v1_name: 0}, {new: 100}]
    assert fleet.serving() == {"v2": 100}
    assert fleet.leftovers() == []


def test_a_forged_boot_phase_of_another_app_or_rollout_does_not_fail_the_gate(slow_fleet, until):
    """Any instance may write any row of the instances table: one of another app, or of
    another rollout, writes `health fail` under a new instance's id while the gate watches.
    The gate reads only rows naming its own app and rollout, so v2 deploys all the same."""
    fleet = slow_fleet
    (v1_name, _), *_ = fleet.groups().items()
    db, table = fleet.aws("dynamodb"), fleet.config.tables.instances
    deploy = fleet.spawn("deploy", "demo-web", "v2", "-y")
    forged = 0
    try:
        until(lambda: _gate_running(fleet), within=60, what="the gate to start")
        rollout_id = fleet.latest()["rollout_id"]
        forgeries = [("other-app", rollout_id), ("demo-web", "r-forged")]
        while deploy.poll() is None:  # the forger rewrites its rows as fast as it can
            new = [g for name, g in fleet.groups().items() if name != v1_name]
            for instance_id in new[0]["instances"] if new else []:
                app, rollout = forgeries[forged % 2]
                forged += 1
                item = {
                    "instance_arn": _arn(instance_id),
                    "instance_id": instance_id,
                    "app": app,
                    "rollout": rollout,
                    "release": "v2",
                    "phase": "health",
                    "status": "fail",
                    "detail": "forged",
                    "updated_at": "2026-01-01T00:00:00Z",
                }
                db.put_item(TableName=table, Item={k: {"S": v} for k, v in item.items()})
    finally:
        out, err = deploy.communicate(timeout=120)
    assert forged > 0
    assert deploy.returncode == 0, out + err
    assert fleet.latest()["state"] == "succeeded", fleet.latest()["reason"]
    assert "forged" not in out + err


def test_every_launch_template_version_a_rollout_creates_requires_imdsv2_with_hop_limit_1(
    fleet: Any,
) -> None:
    """The agent runs on the host; the release's container is one hop further and must not
    reach the instance role's credentials: IMDSv2 tokens required, PUT hop limit 1, whatever
    the app's default version says."""
    (v1_name, _), *_ = fleet.groups().items()
    ec2 = fleet.aws("ec2")
    lax = ec2.create_launch_template_version(
        LaunchTemplateName="freshfleet-demo-web",
        SourceVersion="$Default",
        VersionDescription="someone's lax default",
        LaunchTemplateData={
            "MetadataOptions": {"HttpTokens": "optional", "HttpPutResponseHopLimit": 3}
        },
    )
    ec2.modify_launch_template(
        LaunchTemplateName="freshfleet-demo-web",
        DefaultVersion=str(lax["LaunchTemplateVersion"]["VersionNumber"]),
    )
    ran = fleet.cli("deploy", "demo-web", "v2", "-y")
    assert ran.code == 0, ran.out + ran.err
    name, _ = next((n, g) for n, g in fleet.groups().items() if n != v1_name)
    asg = fleet.aws("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    spec = asg["AutoScalingGroups"][0]["LaunchTemplate"]
    got = ec2.describe_launch_template_versions(
        LaunchTemplateName=spec["LaunchTemplateName"], Versions=[spec["Version"]]
    )
    options = got["LaunchTemplateVersions"][0]["LaunchTemplateData"]["MetadataOptions"]
    assert options["HttpTokens"] == "required"
    assert options["HttpPutResponseHopLimit"] == 1
    assert options["HttpEndpoint"] == "enabled"


def test_status_shows_no_boot_phase_forged_by_another_app(fleet: Any) -> None:
    """What the console and `status` show of an instance's boot comes from rows naming its
    own app and rollout only: a forged `build fail` is not shown as that instance's."""
    import json

    (_, v1), *_ = fleet.groups().items()
    victim, *others = v1["instances"]
    item = {
        "instance_arn": _arn(victim),
        "instance_id": victim,
        "app": "other-app",
        "rollout": v1["rollout_id"],
        "release": "v1",
        "phase": "build",
        "status": "fail",
        "detail": "forged",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    fleet.aws("dynamodb").put_item(
        TableName=fleet.config.tables.instances, Item={k: {"S": v} for k, v in item.items()}
    )
    ran = fleet.cli("status", "demo-web", "--json")
    assert ran.code == 0, ran.err
    (app,) = json.loads(ran.out)["apps"]
    boots = {i["id"]: i["boot"] for g in app["groups"] for i in g["instances"]}
    assert boots[victim] is None
    assert all(boots[i] and boots[i]["phase"] == "health" for i in others)


def _new_group(fleet: Any, old: str) -> tuple[str, dict[str, Any]] | None:
    return next(((n, g) for n, g in fleet.groups().items() if n != old), None)


def test_an_instance_the_asg_replaces_during_the_gate_is_no_failure(slow_fleet, until):
    """An ASG replaces an instance that fails its health check (here EC2's: it was stopped),
    with a new id: the gate watches the replacement as any member and passes."""
    fleet = slow_fleet
    (v1_name, _), *_ = fleet.groups().items()
    deploy = fleet.spawn("deploy", "demo-web", "v2", "-y")
    try:
        until(lambda: _gate_running(fleet), within=60, what="the gate to start")
        name, new = until(
            lambda: (
                (found := _new_group(fleet, v1_name)) and len(found[1]["instances"]) == 3 and found
            ),
            within=60,
            what="the new group's instances",
        )
        victim = new["instances"][0]
        fleet.aws("ec2").stop_instances(InstanceIds=[victim])
        until(
            lambda: victim not in fleet.groups().get(name, {}).get("instances", [victim]),
            within=60,
            what="the stopped instance replaced",
        )
    finally:
        out, err = deploy.communicate(timeout=120)

    assert deploy.returncode == 0, out + err
    rollout = fleet.latest()
    assert rollout["state"] == "succeeded", rollout["reason"]
    members = fleet.groups()[name]["instances"]
    assert len(members) == 3 and victim not in members
    activities = fleet.aws("autoscaling").describe_scaling_activities(AutoScalingGroupName=name)
    causes = [a["Cause"] for a in activities["Activities"] if victim in a["Description"]]
    assert any("EC2 health check" in c for c in causes), causes


def test_a_release_never_healthy_fails_its_gate_naming_the_instances_the_asg_replaced(fleet):
    """The ELB-checked new group replaces instances whose target stays unhealthy past the
    grace period (the app's recorded boots make it short); the release still fails at its
    gate deadline, with the replaced instances and their target health in the reason."""
    (v1_name, _), *_ = fleet.groups().items()
    # The agent waits longer than the gate for a healthy answer: no `health fail` comes first.
    fleet.put_release("v2-never", simulate={"never_healthy": 1}, health_timeout_seconds=3000)
    run = fleet.cli("deploy", "demo-web", "v2-never", "-y")

    assert run.code == 1, run.out + run.err
    rollout = fleet.latest()
    assert rollout["state"] == "failed"
    assert "gate deadline" in rollout["reason"], rollout["reason"]
    assert "replaced by the ASG: i-" in rollout["reason"], rollout["reason"]
    assert "target unhealthy (Target.ResponseCodeMismatch" in rollout["reason"]
    assert list(fleet.groups()) == [v1_name]
    assert fleet.leftovers() == []
