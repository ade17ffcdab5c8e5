"""The fleet observer against a moto server: snapshots, exact diffs, and calls per tick."""

from __future__ import annotations

import gc
import threading

from rollout.aws.gateway import Gateway
from rollout.config import Tables
from rollout.fleet.observer import FleetObserver
from rollout.model import GroupRole, HealthState, InstanceState

from .moto_fleet import add_group, clients, group_instances, seed_app, set_weights

RID1 = "20261127-100000-aaaa"
RID2 = "20261127-110000-bbbb"


async def test_first_tick_sees_the_app_serving_its_release(ledger: Gateway, moto: str) -> None:
    seeded = seed_app(moto, "demo-web", release="v1", rollout_id=RID1, capacity=3)
    observer = FleetObserver(ledger, Tables())

    snapshot, diff = await observer.tick()

    app = snapshot.app("demo-web")
    assert app is not None
    assert app.serving_release == "v1"
    assert app.load_balancer_url.endswith(":8080")
    assert app.listener_arn == seeded.listener_arn
    (group,) = app.groups
    assert (group.role, group.weight, group.release) == (GroupRole.SERVING, 100, "v1")
    instances = snapshot.instances_of(group)
    assert len(instances) == 3
    assert all(i.state is InstanceState.RUNNING for i in instances)
    assert all(i.health and i.health.healthy for i in instances)
    assert all(i.release == "v1" and i.rollout_id == RID1 for i in instances)
    assert snapshot.backend == "LOCAL SANDBOX"
    assert diff.added == tuple(sorted(group.instance_ids))


async def test_diff_is_exact_through_launch_health_change_and_terminate(
    ledger: Gateway, moto: str
) -> None:
    seeded = seed_app(moto, "shop", release="v1", rollout_id=RID1, capacity=2)
    group, tg_arn = seeded.groups[RID1]
    aws = clients(moto)
    # Every group read every tick: the diff's exactness here, ELB's budget in
    # test_observer_budget.py.
    observer = FleetObserver(ledger, Tables(), steady_seconds=0)
    await observer.tick()

    _, diff = await observer.tick()
    assert diff.empty, "nothing changed, nothing to repaint"

    # Launch: the group grows by one instance.
    before = set(group_instances(moto, group))
    aws["autoscaling"].set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=3)
    (launched,) = set(group_instances(moto, group)) - before
    _, diff = await observer.tick()
    assert diff.added == (launched,)
    assert (diff.removed, diff.changed) == ((), ())
    assert diff.groups_changed == (group,)
    assert diff.apps_changed == ("shop",)

    # Health change: one target leaves its target group.
    aws["elbv2"].deregister_targets(TargetGroupArn=tg_arn, Targets=[{"Id": launched}])
    snapshot, diff = await observer.tick()
    assert diff.changed == (launched,)
    assert (diff.added, diff.removed, diff.groups_changed) == ((), (), ())
    assert snapshot.instances[launched].health is None

    aws["elbv2"].register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": launched}])
    snapshot, diff = await observer.tick()
    assert diff.changed == (launched,)
    health = snapshot.instances[launched].health
    assert health is not None and health.state is HealthState.HEALTHY

    # Terminate: the instance leaves the group and the snapshot.
    aws["autoscaling"].terminate_instance_in_auto_scaling_group(
        InstanceId=launched, ShouldDecrementDesiredCapacity=True
    )
    snapshot, diff = await observer.tick()
    assert diff.removed == (launched,)
    assert (diff.added, diff.changed) == ((), ())
    assert diff.groups_changed == (group,)
    assert launched not in snapshot.instances


async def test_roles_follow_the_listener_weights(ledger: Gateway, moto: str) -> None:
    seeded = seed_app(moto, "api", release="v1", rollout_id=RID1, capacity=1)
    new_tg = add_group(moto, seeded, release="v2", rollout_id=RID2, capacity=1)
    observer = FleetObserver(ledger, Tables(), steady_seconds=0)  # weights every tick

    snapshot, _ = await observer.tick()
    roles = {g.release: g.role for g in snapshot.app("api").groups}  # type: ignore[union-attr]
    assert roles == {"v1": GroupRole.SERVING, "v2": GroupRole.IDLE}

    set_weights(moto, seeded, {seeded.groups[RID1][1]: 0, new_tg: 100})
    snapshot, diff = await observer.tick()
    app = snapshot.app("api")
    assert app is not None and app.serving_release == "v2"
    assert set(diff.groups_changed) == {seeded.groups[RID1][0], seeded.groups[RID2][0]}


async def test_a_steady_tick_of_200_instances_never_describes_instances(
    ledger: Gateway, moto: str
) -> None:
    seed_app(moto, "big", release="v1", rollout_id=RID1, capacity=200)
    observer = FleetObserver(ledger, Tables(), thread_sweep_over=100)
    sweeping_threads: list[str] = []
    ledger.register(
        "before-call.ec2.DescribeInstances",
        lambda **_: sweeping_threads.append(threading.current_thread().name),
    )

    first = observer.calls.mark()
    gc.unfreeze()
    snapshot, _ = await observer.tick()
    first_calls = observer.calls.since(first)
    assert len(snapshot.instances) == 200
    # A big fleet's first snapshot leaves the heap frozen: full collections walk only
    # what came after (a 1,000-instance heap took 166-205 ms, every thread stopped).
    assert gc.get_freeze_count() > 0
    assert first_calls["ec2:DescribeInstances"] == 1  # one filtered sweep...
    assert first_calls["ec2:DescribeInstanceStatus"] == 2  # by id, 100 a call, not the region
    assert sweeping_threads and threading.main_thread().name not in sweeping_threads  # off-loop

    steady = observer.calls.mark()
    collections: list[int] = []
    gc.callbacks.append(lambda phase, info: collections.append(info["generation"]))
    try:
        _, diff = await observer.tick()
    finally:
        gc.callbacks.pop()
    calls = observer.calls.since(steady)
    assert diff.empty
    # A big fleet's tick lets no automatic collection run (each one holds the GIL, at
    # 5,000 instances up to 65 ms); the collector is back on once the tick is over.
    assert collections == [] and gc.isenabled()
    assert calls["ec2:DescribeInstances"] == 0
    print(f"\nAWS calls per steady tick, 200 instances: {dict(calls)}")
    # No DescribeInstanceStatus: every instance is InService and Healthy in its ASG and
    # was running when EC2 was last asked (EC2 is never asked region-wide). No ELB call:
    # the serving group was all healthy a moment ago and no app is in a rollout.
    assert dict(calls) == {  # only the cheap calls, once each
        "auto-scaling:DescribeAutoScalingGroups": 1,
        "dynamodb:BatchGetItem": 1,  # the apps' locks; no lock held: no rollouts Query
    }


async def test_a_rollouts_groups_go_launching_retained_and_retiring_on_rollback(
    ledger: Gateway, moto: str
) -> None:
    from datetime import UTC, datetime, timedelta

    from rollout.ledger.codec import to_item
    from rollout.ledger.timestamps import iso

    tables = Tables()
    seeded = seed_app(moto, "pay", release="v1", rollout_id=RID1, capacity=1)
    new_tg = add_group(moto, seeded, release="v2", rollout_id=RID2, capacity=1)
    now = datetime.now(UTC)
    rollout = {
        "app": "pay", "rollout_id": RID2, "from_release": "v1", "to_release": "v2",
        "strategy": "blue-green", "state": "running", "owner": "ann@laptop:42",
        "started_at": iso(now), "steps": [],
    }  # fmt: skip
    await ledger.call("dynamodb", "put_item", TableName=tables.rollouts, Item=to_item(rollout))
    lock = {
        "app": "pay", "owner": "ann@laptop:42", "caller_arn": "arn:aws:iam::1:user/ann",
        "acquired_at": int(now.timestamp()),
        "expires_at": int((now + timedelta(seconds=60)).timestamp()),
        "message": "deploying v2",
    }  # fmt: skip
    await ledger.call("dynamodb", "put_item", TableName=tables.locks, Item=to_item(lock))
    observer = FleetObserver(ledger, tables)

    snapshot, _ = await observer.tick()
    app = snapshot.app("pay")
    assert app is not None and app.active_rollout_id == RID2
    assert app.lock is not None and app.lock.message == "deploying v2"
    roles = {g.release: g.role for g in app.groups}
    assert roles == {"v1": GroupRole.SERVING, "v2": GroupRole.LAUNCHING}

    set_weights(moto, seeded, {seeded.groups[RID1][1]: 0, new_tg: 100})  # the shift
    snapshot, _ = await observer.tick()
    roles = {g.release: g.role for g in snapshot.app("pay").groups}  # type: ignore[union-attr]
    assert roles == {"v1": GroupRole.RETAINED, "v2": GroupRole.SERVING}

    # The bake fails: the rollout rolls back (one listener change), its group goes away.
    rollback = {"name": "rollback", "status": "running", "started_at": iso(now), "detail": ""}
    await ledger.call(
        "dynamodb",
        "put_item",
        TableName=tables.rollouts,
        Item=to_item({**rollout, "steps": [rollback]}),
    )
    set_weights(moto, seeded, {seeded.groups[RID1][1]: 100, new_tg: 0})
    snapshot, _ = await observer.tick()
    roles = {g.release: g.role for g in snapshot.app("pay").groups}  # type: ignore[union-attr]
    assert roles == {"v1": GroupRole.SERVING, "v2": GroupRole.RETIRING}


async def test_an_app_without_a_listener_is_not_rediscovered_every_tick(
    ledger: Gateway, moto: str
) -> None:
    seeded = seed_app(moto, "quiet", release="v1", rollout_id=RID1, capacity=1)
    clients(moto)["elbv2"].delete_listener(ListenerArn=seeded.listener_arn)
    observer = FleetObserver(ledger, Tables())
    snapshot, _ = await observer.tick()
    app = snapshot.app("quiet")
    assert app is not None and app.listener_arn == "" and app.serving_release == ""

    steady = observer.calls.mark()
    await observer.tick()
    calls = observer.calls.since(steady)
    assert calls["elastic-load-balancing-v2:DescribeLoadBalancers"] == 0, dict(calls)


async def test_an_app_behind_a_listener_rule_on_a_shared_alb(ledger: Gateway, moto: str) -> None:
    from rollout.model import TAG_APP
    from rollout.naming import elb_tag_list

    from .moto_fleet import forward

    seeded = seed_app(moto, "front", release="v1", rollout_id=RID1, capacity=1)
    shop = add_group(moto, seeded, release="s1", rollout_id=RID2, capacity=1)
    # The shop's group carries the shop's tags: retag it as an app of its own.
    name = seeded.groups[RID2][0]
    aws = clients(moto)
    aws["autoscaling"].create_or_update_tags(
        Tags=[
            {"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": TAG_APP,
             "Value": "shop", "PropagateAtLaunch": True},
        ]
    )  # fmt: skip
    rule = aws["elbv2"].create_rule(
        ListenerArn=seeded.listener_arn,
        Priority=10,
        Conditions=[{"Field": "path-pattern", "Values": ["/shop/*"]}],
        Actions=[forward({shop: 100})],
        Tags=elb_tag_list({TAG_APP: "shop"}),
    )["Rules"][0]

    snapshot, _ = await FleetObserver(ledger, Tables()).tick()

    app = snapshot.app("shop")
    assert app is not None
    assert app.rule_arn == rule["RuleArn"]
    assert app.serving_release == "s1"
    assert app.load_balancer_url == snapshot.app("front").load_balancer_url  # type: ignore[union-attr]
    front = snapshot.app("front")
    assert front is not None and front.serving_release == "v1"


async def test_a_listener_deleted_between_ticks_is_noticed_not_fatal(
    ledger: Gateway, moto: str
) -> None:
    seeded = seed_app(moto, "gone", release="v1", rollout_id=RID1, capacity=1)
    observer = FleetObserver(ledger, Tables(), steady_seconds=0)  # weights every tick
    snapshot, _ = await observer.tick()
    assert snapshot.app("gone").serving_release == "v1"  # type: ignore[union-attr]

    clients(moto)["elbv2"].delete_listener(ListenerArn=seeded.listener_arn)
    snapshot, diff = await observer.tick()

    app = snapshot.app("gone")
    assert app is not None and (app.listener_arn, app.serving_release) == ("", "")
    assert diff.apps_changed == ("gone",)


async def test_instances_of_other_tools_never_page_into_the_instance_states(
    ledger: Gateway, moto: str
) -> None:
    """DescribeInstanceStatus is asked by id about freshfleet's members only: the account's
    other instances, and the ones it just terminated (listed for an hour with
    IncludeAllInstances), are never read."""
    seeded = seed_app(moto, "web", release="v1", rollout_id=RID1, capacity=2)
    ec2 = clients(moto)["ec2"]
    others = [
        i["InstanceId"]
        for i in ec2.run_instances(ImageId="ami-12c6146b", MinCount=30, MaxCount=30)["Instances"]
    ]
    ec2.terminate_instances(InstanceIds=others[:15])
    asked: list[list[str]] = []
    ledger.register(
        "provide-client-params.ec2.DescribeInstanceStatus",
        lambda params, **_: asked.append(list(params.get("InstanceIds", []))),
    )
    observer = FleetObserver(ledger, Tables())

    snapshot, _ = await observer.tick()

    members = set(group_instances(moto, seeded.groups[RID1][0]))
    assert asked and all(ids for ids in asked)  # never region-wide
    assert {i for ids in asked for i in ids} == members
    assert set(snapshot.instances) == members
