"""The engine on AWS's DetachInstances and standby (localaws plays them as AWS documents,
localaws/README.md "Fidelity to AWS"): a member detaching (`Detaching`, `Detached`) is read as
leaving, one on standby (`EnteringStandby`, `Standby`) as on standby, neither healthy nor one of
the group's launches, both still `running` in EC2. A gate during which one new instance goes on
standby and another is detached (neither decrementing: the ASG launches replacements) waits
for the replacements and passes; the detached instance's last reading is `running`, not
`terminated`: it runs on, a plain EC2 instance.
"""

from __future__ import annotations

from typing import Any

from localaws.process import LocalAws
from localaws.testing import boto3_client
from rollout.aws.backend import Backend
from rollout.aws.gateway import Gateway
from rollout.deploy.health import group_view
from rollout.model import InstanceState

APP = "demo-web"


async def test_detaching_and_standby_members_are_read_as_such_never_healthy(
    fresh_localaws: LocalAws,
) -> None:
    asg = boto3_client("autoscaling", fresh_localaws.url)
    (group,) = asg.describe_auto_scaling_groups()["AutoScalingGroups"]
    name, arn = group["AutoScalingGroupName"], group["TargetGroupARNs"][0]
    staying, resting, leaving = [i["InstanceId"] for i in group["Instances"]]
    # AWS's default delay (300 s, 3 s here): both drains outlast the reading below.
    boto3_client("elbv2", fresh_localaws.url).modify_target_group_attributes(
        TargetGroupArn=arn,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "300"}],
    )
    asg.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=1)
    asg.enter_standby(
        AutoScalingGroupName=name, InstanceIds=[resting], ShouldDecrementDesiredCapacity=True
    )
    asg.detach_instances(
        AutoScalingGroupName=name, InstanceIds=[leaving], ShouldDecrementDesiredCapacity=True
    )
    backend = Backend(endpoint_url=fresh_localaws.url, region=fresh_localaws.region, local=True)
    async with Gateway(backend) as gw:
        views = await group_view(gw, name, arn, "freshfleet-instances", app=APP, rollout_id="r")
    assert views is not None
    by_id = {v.instance_id: v for v in views}
    assert set(by_id) == {staying, resting, leaving}  # AWS still lists all three
    assert by_id[leaving].lifecycle == "Detaching"
    assert by_id[leaving].leaving and by_id[leaving].detached
    assert by_id[resting].lifecycle == "EnteringStandby"
    assert by_id[resting].on_standby and not by_id[resting].leaving
    for v in (by_id[leaving], by_id[resting]):
        assert v.state is InstanceState.RUNNING and not v.healthy
    counted = [v for v in views if not (v.leaving or v.on_standby)]
    assert [v.instance_id for v in counted] == [staying]


def _gate_running(fleet: Any) -> bool:
    steps = fleet.latest().get("steps", []) if fleet.rollouts() else []
    return bool(steps) and steps[-1]["name"] == "gate" and steps[-1]["status"] == "running"


def test_a_gate_waits_for_the_replacements_of_a_standby_and_a_detached_instance(
    slow_fleet: Any, until: Any
) -> None:
    fleet = slow_fleet
    (v1_name, _), *_ = fleet.groups().items()
    asg = fleet.aws("autoscaling")
    deploy = fleet.spawn("deploy", APP, "v2", "-y")
    try:
        until(lambda: _gate_running(fleet), within=60, what="the gate to start")

        def new_group_in_service() -> tuple[str, list[str]] | None:
            for name, g in fleet.groups().items():
                if name == v1_name or len(g["instances"]) != 3:
                    continue
                got = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
                states = {i["LifecycleState"] for i in got["AutoScalingGroups"][0]["Instances"]}
                if states == {"InService"}:
                    return name, list(g["instances"])
            return None

        name, (resting, leaving, _) = until(
            new_group_in_service, within=60, what="the new group's instances in service"
        )
        asg.enter_standby(
            AutoScalingGroupName=name, InstanceIds=[resting], ShouldDecrementDesiredCapacity=False
        )
        asg.detach_instances(
            AutoScalingGroupName=name, InstanceIds=[leaving], ShouldDecrementDesiredCapacity=False
        )
    finally:
        out, err = deploy.communicate(timeout=120)

    assert deploy.returncode == 0, out + err
    rollout = fleet.latest()
    assert rollout["state"] == "succeeded", rollout["reason"]
    members = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    states = {i["InstanceId"]: i["LifecycleState"] for i in members[0]["Instances"]}
    assert states[resting] == "Standby"
    serving = [i for i, s in states.items() if s == "InService"]
    assert len(serving) == 3 and resting not in serving and leaving not in serving
    assert f"{leaving} terminated" not in out, out  # detached: it runs on
    fleet.aws("ec2").terminate_instances(InstanceIds=[leaving])  # no longer the group's
