"""Canary and rolling on the demo, with the listener weights each strategy defines."""

from __future__ import annotations


def _weights_by_release(rollout):
    names = {rollout["old_group"]["name"]: "old", rollout["new_group"]: "new"}
    return [
        {names[g]: w for g, w in sorted(h["weights"].items())} for h in rollout["weights_history"]
    ]


def test_canary_gives_one_instance_ten_percent_then_the_full_group_everything(fleet):
    run = fleet.cli("deploy", "demo-web", "v2", "-y", "--strategy", "canary")

    assert run.code == 0, run.out + run.err
    rollout = fleet.latest()
    assert rollout["state"] == "succeeded" and rollout["strategy"] == "canary"
    assert _weights_by_release(rollout) == [
        {"new": 0, "old": 100},  # in the listener before its gate, so ELB checks it
        {"new": 10, "old": 90},
        {"new": 100, "old": 0},
        {"new": 100},
    ]
    steps = [s["name"] for s in rollout["steps"]]
    assert steps == [
        "plan", "launch", "gate", "shift", "watch", "scale", "gate", "shift", "bake", "retire"
    ]  # fmt: skip
    (_, group), *_ = fleet.groups().items()
    assert group["release"] == "v2" and fleet.healthy(group["tg"]) == 3
    assert fleet.leftovers() == []


def test_rolling_grows_the_new_group_as_the_old_one_shrinks(fleet):
    run = fleet.cli("deploy", "demo-web", "v2", "-y", "--strategy", "rolling")

    assert run.code == 0, run.out + run.err
    rollout = fleet.latest()
    assert rollout["state"] == "succeeded" and rollout["strategy"] == "rolling"
    # 3 instances in batches of 25 % (rounded up to one): the weights follow the healthy share.
    assert _weights_by_release(rollout) == [
        {"new": 0, "old": 100},  # in the listener before its gate, so ELB checks it
        {"new": 33, "old": 67},
        {"new": 67, "old": 33},
        {"new": 100, "old": 0},
        {"new": 100},
    ]
    assert [s["name"] for s in rollout["steps"]].count("shrink") == 3
    (_, group), *_ = fleet.groups().items()
    assert group["release"] == "v2" and fleet.healthy(group["tg"]) == 3
    assert fleet.leftovers() == []
