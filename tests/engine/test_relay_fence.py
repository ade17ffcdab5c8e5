"""The notification relay records its deliveries on the rollout's item fenced on the lease,
like every other ledger write of the runner: a relay whose process lost the rollout to a
takeover writes nothing over the new holder's item (against moto's DynamoDB)."""

from __future__ import annotations

from rollout.aws.gateway import Gateway
from rollout.config import Tables
from rollout.deploy.plan import RolloutPlan
from rollout.events import RolloutFinished
from rollout.fleet.traffic import TrafficPoint
from rollout.ledger.rollouts import RolloutLedger
from rollout.model import Capacity, Release
from rollout.notify.relay import NotificationRelay
from rollout.notify.settings import NotifierSpec

APP = "shop"
ROLLOUT = "20261204-180000-ab12"
# A webhook with no signing secret gives up at once (nothing is sent): a delivery to record.
HOOK = NotifierSpec(app=APP, kind="webhook", url="https://hooks.example.com/x", name="hook")


def _plan() -> RolloutPlan:
    return RolloutPlan(
        app=APP,
        rollout_id=ROLLOUT,
        release=Release(APP, "v2", "https://releases.example.com/v2.tgz", "0" * 64),
        strategy="all-at-once",
        traffic=TrafficPoint(APP, "arn:listener", "arn:alb"),
        old_group=None,
        new_group=f"{APP}-{ROLLOUT}",
        launch_template=f"freshfleet-{APP}",
        launch_template_version="2",
        user_data="",
        user_data_sha256="",
        capacity=Capacity(1, 1, 1),
        bake_seconds=0,
    )


async def _finish_through(relay: NotificationRelay) -> None:
    relay.observe(RolloutFinished(app=APP, rollout_id=ROLLOUT, state="succeeded"))
    await relay.drain()


async def test_a_stale_relays_delivery_record_is_refused(ledger: Gateway, tables: Tables) -> None:
    rollouts = RolloutLedger(ledger, tables.rollouts)
    await rollouts.put(
        {"app": APP, "rollout_id": ROLLOUT, "state": "running", "owner": "a", "lock_generation": 1}
    )
    stale = NotificationRelay(
        ledger, (HOOK,), _plan(), rollouts, owner="a", emit=lambda _: None, fence=lambda: ("a", 1)
    )
    # `resume --force` elsewhere: the rollout now names its new owner and generation.
    assert await rollouts.update(APP, ROLLOUT, fence=("a", 1), owner="b", lock_generation=2)

    await _finish_through(stale)

    assert [d.event for d in stale.deliveries] == ["succeeded"]  # delivered (and said) still
    item = await rollouts.get_values(APP, ROLLOUT)
    assert item is not None and "notifications" not in item, item

    holder = NotificationRelay(
        ledger, (HOOK,), _plan(), rollouts, owner="b", emit=lambda _: None, fence=lambda: ("b", 2)
    )
    await _finish_through(holder)
    item = await rollouts.get_values(APP, ROLLOUT)
    assert item is not None
    assert [(n["notifier"], n["event"], n["ok"]) for n in item["notifications"]] == [
        ("hook", "succeeded", False)
    ]
