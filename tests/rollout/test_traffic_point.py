"""The app's traffic point is read one way everywhere: the observer and the rollout agree on
what a listener forwards, whoever set it (a plain forward set by hand is that one group at
full weight), and a resume after such a hand edit goes on instead of flipping back."""

from __future__ import annotations

import json
from collections import Counter

from rollout.aws.backend import Backend
from rollout.aws.gateway import Gateway
from rollout.fleet.observer import CallCounter, FleetObserver
from rollout.fleet.traffic import find_traffic_point, read_weights


def _plain_forward(fleet, target_group: str) -> None:
    """What someone does by hand in the console: forward everything to one target group."""
    fleet.aws("elbv2").modify_listener(
        ListenerArn=fleet.listener()["ListenerArn"],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}],
    )


async def _both_readings(fleet) -> tuple[dict[str, int], dict[str, int]]:
    """(target group -> weight) as the console's observer shows it, and as a plan reads it."""
    backend = Backend(endpoint_url=fleet.url, region="us-east-1", local=True)
    async with Gateway(backend) as gw:
        snapshot, _ = await FleetObserver(gw, fleet.config.tables).tick()
        app = next(a for a in snapshot.apps if a.name == "demo-web")
        observed = {g.target_group_arn: g.weight for g in app.groups if g.weight}
        return observed, await read_weights(gw, await find_traffic_point(gw, "demo-web"))


async def test_a_plain_forward_reads_as_the_one_group_at_full_weight_everywhere(fleet):
    (v1,) = [g["tg"] for g in fleet.groups().values()]
    _plain_forward(fleet, v1)
    observer_sees, rollout_sees = await _both_readings(fleet)
    assert observer_sees == rollout_sees == {v1: 100}


def test_a_resume_after_a_hand_set_plain_forward_to_the_new_group_finishes(fleet):
    run = fleet.cli("deploy", "demo-web", "v2", "-y", "--no-wait", "--json")
    assert run.code == 0, run.err
    v2 = next(g["tg"] for g in fleet.groups().values() if g["release"] == "v2")
    _plain_forward(fleet, v2)  # someone "finishes" the cutover by hand

    done = fleet.cli("resume", "demo-web", "-y", "--json")
    assert done.code == 0, done.out + done.err
    assert json.loads(done.out)["state"] == "succeeded"
    assert fleet.serving() == {"v2": 100}
    assert [s["name"] for s in fleet.latest()["steps"]][-2:] == ["bake", "retire"]


def _other_albs(fleet, count: int) -> None:
    """Other apps' load balancers in the region, each with a tagged listener."""
    ec2, elb = fleet.aws("ec2"), fleet.aws("elbv2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    for i in range(count):
        tags = [{"Key": "freshfleet:app", "Value": f"other-{i}"}]
        lb = elb.create_load_balancer(Name=f"other-{i}", Subnets=subnets, Tags=tags)
        elb.create_listener(
            LoadBalancerArn=lb["LoadBalancers"][0]["LoadBalancerArn"],
            Protocol="HTTP",
            Port=80,
            DefaultActions=[
                {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}
            ],
            Tags=tags,
        )


async def _find_counting(fleet) -> tuple[object, Counter[str]]:
    backend = Backend(endpoint_url=fleet.url, region="us-east-1", local=True)
    async with Gateway(backend) as gw:
        calls = CallCounter()
        gw.register("before-call", calls)
        point = await find_traffic_point(gw, "demo-web")
        return point, calls.counts


async def test_the_listener_is_read_from_the_apps_template_not_found_by_walking_the_region(fleet):
    _other_albs(fleet, 4)
    point, calls = await _find_counting(fleet)
    assert point.listener_arn == fleet.listener()["ListenerArn"]
    elb = {op: n for op, n in calls.items() if op.startswith("elastic-load-balancing-v2:")}
    assert sum(elb.values()) == 2, calls  # the listener and its load balancer, by ARN
    assert calls["ec2:DescribeLaunchTemplates"] == 1


async def test_without_a_remembered_listener_the_walk_runs_once_and_remembers_it(fleet):
    _other_albs(fleet, 2)
    ec2 = fleet.aws("ec2")
    template = ec2.describe_launch_templates(LaunchTemplateNames=["freshfleet-demo-web"])
    template_id = template["LaunchTemplates"][0]["LaunchTemplateId"]
    ec2.delete_tags(Resources=[template_id], Tags=[{"Key": "freshfleet:listener"}])

    walked, first = await _find_counting(fleet)
    assert first["elastic-load-balancing-v2:DescribeTags"] >= 1  # found by its tags
    assert first["ec2:CreateTags"] == 1  # and remembered
    again, second = await _find_counting(fleet)
    assert again == walked
    assert second["elastic-load-balancing-v2:DescribeTags"] == 0
    assert second["elastic-load-balancing-v2:DescribeLoadBalancers"] == 1
