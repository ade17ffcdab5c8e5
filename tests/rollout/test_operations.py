"""The operations both faces call (`rollout.operations`), against localaws: each asks its
questions through the `confirm` hook of the face (`Face`) it is run for; a hook that
refuses changes nothing (and frees the lock), one that accepts does what was asked, the
one way for every face."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from rollout import operations
from rollout.aws.backend import Backend
from rollout.aws.gateway import Gateway
from rollout.deploy import DeployRequest, Rollout, RolloutInputError
from rollout.operations import Act, Answer, Ask, Face, Question, WayBack

APP = "demo-web"
V2 = DeployRequest(APP, "v2")  # what most of these tests deploy
ACCOUNT = "123456789012"  # localaws's (moto's) account


class Hook:
    """A face's `confirm` (`Face(hook)`): records every question and answers `answer`
    (sync, or async with `async_`), or what `answers` says for that kind of question."""

    def __init__(self, answer: Answer, *, async_: bool = False, **answers: Answer) -> None:
        self.answer = answer
        self.answers = answers
        self.asked: list[Question] = []
        self.async_ = async_

    def _reply(self, q: Question) -> Answer:
        self.asked.append(q)
        return self.answers.get(str(q.ask), self.answer)

    def __call__(self, q: Question) -> Any:
        if not self.async_:
            return self._reply(q)

        async def later() -> Answer:
            await asyncio.sleep(0)
            return self._reply(q)

        return later()

    @property
    def kinds(self) -> list[Ask]:
        return [q.ask for q in self.asked]


@asynccontextmanager
async def gateway(fleet: Any) -> AsyncIterator[Gateway]:
    async with Gateway(Backend(endpoint_url=fleet.url, region="us-east-1", local=True)) as gw:
        yield gw


async def until(probe: Callable[[], Any], *, within: float = 60.0, what: str = "") -> Any:
    """Poll a (blocking) probe off the event loop until it is truthy; fail at the deadline."""
    deadline = time.monotonic() + within
    while True:
        value = await asyncio.to_thread(probe)
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(0.1)


def baking(fleet: Any) -> bool:
    latest = fleet.latest()
    return latest["state"] == "running" and any(s["name"] == "bake" for s in latest["steps"])


async def test_deploy_refused_changes_nothing_accepted_runs_it_to_the_end(fleet):
    before = fleet.rollouts()
    async with gateway(fleet) as gw:
        no = Hook(False)
        refused = await operations.deploy(gw, fleet.config, V2, Face(no))
        assert no.kinds == [Ask.PLAN]  # not a production account: no typed-name gate
        assert refused.act is None and refused.result is None
        assert refused.refused is not None and refused.refused.plan is not None
        assert refused.refused.plan.release.version == "v2"
        assert fleet.rollouts() == before and fleet.lock() is None
        assert fleet.serving() == {"v1": 100}

        yes = Hook(True, async_=True)
        started: list[Rollout] = []
        done = await operations.deploy(gw, fleet.config, V2, Face(yes, on_start=started.append))
    assert yes.kinds == [Ask.PLAN] and yes.asked[0].act is Act.DEPLOY
    assert done.act is Act.DEPLOY and done.result is not None
    assert done.result.state == "succeeded", done.result
    assert [r.rollout_id for r in started] == [done.rollout_id]
    assert fleet.serving() == {"v2": 100}
    assert fleet.leftovers() == []


async def test_on_a_production_account_the_gate_is_asked_first_and_its_no_stops_all(fleet):
    prod = dataclasses.replace(fleet.config, production_accounts=(ACCOUNT,))
    before = fleet.rollouts()
    async with gateway(fleet) as gw:
        for call in (
            lambda hook: operations.deploy(gw, prod, V2, Face(hook)),
            lambda hook: operations.rollback(gw, prod, APP, Face(hook)),
            lambda hook: operations.resume(gw, prod, APP, Face(hook)),
            lambda hook: operations.abort(gw, prod, APP, Face(hook)),
        ):
            no = Hook(False)
            outcome = await call(no)
            assert no.kinds == [Ask.PRODUCTION] and no.asked[0].account == ACCOUNT
            assert outcome.refused is no.asked[0] and outcome.act is None
        # Past the gate, the operation's own question comes next.
        gate_only = Hook(True, plan=False)
        await operations.deploy(gw, prod, V2, Face(gate_only))
        assert gate_only.kinds == [Ask.PRODUCTION, Ask.PLAN]
    assert fleet.rollouts() == before and fleet.lock() is None
    assert fleet.serving() == {"v1": 100}


async def test_rollback_while_its_owner_bakes_asks_the_owner_to_flip_back(fleet):
    async with gateway(fleet) as gw:
        face = Face(Hook(True), via=" from the console")
        bake = DeployRequest(APP, "v2", bake_seconds=60)
        running = asyncio.create_task(operations.deploy(gw, fleet.config, bake, face))
        await until(lambda: baking(fleet), what="the bake")
        lock = fleet.lock()
        assert lock is not None and lock["message"] == "deploy v2 from the console"

        no = Hook(None)
        refused = await operations.rollback(gw, fleet.config, APP, Face(no))
        (way,) = no.asked
        assert way.ask is Ask.WAY_BACK and way.default == WayBack(Act.FLIP)
        assert way.unfinished is not None and way.unfinished.state == "running"
        assert way.options is not None and way.options.flip_back.available
        assert refused.refused is way and baking(fleet)  # the bake goes on

        yes = Hook(True)
        flipped = await operations.rollback(gw, fleet.config, APP, Face(yes), wait_seconds=60)
        assert flipped.act is Act.FLIP and flipped.request is not None
        assert flipped.request.state == "rolled_back", flipped.request
        deployed = await running
    assert deployed.result is not None and deployed.result.state == "rolled_back"
    assert fleet.latest()["abort_action"] == "rollback"
    assert fleet.serving() == {"v1": 100}
    assert fleet.leftovers() == []


async def test_a_detached_rollout_is_offered_and_taken_over_only_when_accepted(fleet):
    async with gateway(fleet) as gw:
        left = await operations.deploy(
            gw, fleet.config, DeployRequest(APP, "v2", no_wait=True), Face(Hook(True))
        )
        assert left.result is not None and left.result.state == "detached"
        rid = left.rollout_id

        # Resume: only resuming is offered; a "no" leaves it detached and the lock free.
        no = Hook(False, async_=True)
        refused = await operations.resume(gw, fleet.config, APP, Face(no))
        (offer,) = no.asked
        assert offer.ask is Ask.TAKE_OVER and offer.choices == (Act.RESUME,)
        assert offer.unfinished is not None and offer.unfinished.rollout_id == rid
        assert offer.unfinished.last_step == "shift"
        assert refused.refused is offer
        assert fleet.latest()["state"] == "detached" and fleet.lock() is None

        # Rollback finds it first (nothing runs it) and offers the takeover; a "no" again.
        no = Hook(False)
        await operations.rollback(gw, fleet.config, APP, Face(no))
        assert no.kinds == [Ask.TAKE_OVER] and no.asked[0].take is Act.ROLLBACK
        assert set(no.asked[0].choices) == {Act.RESUME, Act.ROLLBACK, Act.ABORT}
        assert fleet.latest()["state"] == "detached"

        # Accepted, it is taken over (under the lock, with the face's `via` in its
        # message) and undone: v1 serves again.
        yes = Hook(True)
        started: list[tuple[Rollout, Any]] = []
        face = Face(yes, via=" by hand", on_start=lambda r: started.append((r, fleet.lock())))
        undone = await operations.rollback(gw, fleet.config, APP, face)
    assert undone.act is Act.ROLLBACK and undone.rollout_id == rid
    assert undone.result is not None and undone.result.state == "rolled_back", undone.result
    ((rollout, lock),) = started
    assert rollout.rollout_id == rid and lock["message"] == f"rollback {rid} by hand"
    assert fleet.serving() == {"v1": 100}
    assert fleet.leftovers() == []


async def test_the_offer_does_what_the_face_picks_and_resume_finishes_a_detached_one(fleet):
    async with gateway(fleet) as gw:
        assert await operations.offer_takeover(gw, fleet.config, APP, Face(Hook(True))) is None
        await operations.deploy(
            gw, fleet.config, DeployRequest(APP, "v2", no_wait=True), Face(Hook(True))
        )
        # The face picks another of the choices than the proposed one: abort it.
        picked = await operations.offer_takeover(
            gw, fleet.config, APP, Face(Hook(Act.ABORT)), take=Act.RESUME
        )
        assert picked is not None and picked.act is Act.ABORT
        assert picked.result is not None and picked.result.state == "rolled_back"
        assert fleet.serving() == {"v1": 100}

        with pytest.raises(RolloutInputError, match="no unfinished rollout to resume"):
            await operations.resume(gw, fleet.config, APP, Face(Hook(True)))
        await operations.deploy(
            gw, fleet.config, DeployRequest(APP, "v2", no_wait=True), Face(Hook(True))
        )
        resumed = await operations.resume(gw, fleet.config, APP, Face(Hook(True)))
    assert resumed.act is Act.RESUME and resumed.result is not None
    assert resumed.result.state == "succeeded", resumed.result
    assert fleet.serving() == {"v2": 100}
    assert fleet.leftovers() == []


async def test_after_the_bake_rollback_is_a_fresh_deploy_of_the_release_before(fleet):
    async with gateway(fleet) as gw:
        await operations.deploy(gw, fleet.config, V2, Face(Hook(True)))
        no_plan = Hook(True, plan=False)
        refused = await operations.rollback(gw, fleet.config, APP, Face(no_plan))
        way, plan = no_plan.asked
        assert way.ask is Ask.WAY_BACK and way.default == WayBack(Act.FRESH, "v1")
        assert way.options is not None and not way.options.flip_back.available
        assert plan.ask is Ask.PLAN and plan.act is Act.FRESH
        assert refused.refused is plan and fleet.lock() is None
        assert fleet.serving() == {"v2": 100}

        back = await operations.rollback(gw, fleet.config, APP, Face(Hook(True)))
    assert back.act is Act.FRESH and back.result is not None
    assert back.result.state == "succeeded" and back.result.to_release == "v1"
    assert fleet.serving() == {"v1": 100}
    assert fleet.leftovers() == []


async def test_abort_asks_then_stops_the_running_rollout(fleet):
    async with gateway(fleet) as gw:
        with pytest.raises(RolloutInputError, match="no rollout of demo-web is running"):
            await operations.abort(gw, fleet.config, APP, Face(Hook(True)))
        running = asyncio.create_task(
            operations.deploy(
                gw, fleet.config, DeployRequest(APP, "v2", bake_seconds=60), Face(Hook(True))
            )
        )
        await until(lambda: baking(fleet), what="the bake")
        no = Hook(False)
        refused = await operations.abort(gw, fleet.config, APP, Face(no))
        assert no.kinds == [Ask.ABORT] and refused.refused is no.asked[0]
        assert baking(fleet)

        asked = await operations.abort(gw, fleet.config, APP, Face(Hook(True)), wait_seconds=60)
        assert asked.act is Act.ABORT and asked.request is not None
        assert asked.request.state != "running", asked.request
        deployed = await running
    assert deployed.result is not None and deployed.result.state in ("rolled_back", "aborted")
    assert fleet.latest()["abort_action"] == "abort"
    assert fleet.serving() == {"v1": 100}
    assert fleet.leftovers() == []


async def test_history_reads_the_rollouts_and_knows_an_unknown_app(fleet):
    async with gateway(fleet) as gw:
        known = await operations.history(gw, fleet.config, APP, boots=True)
        unknown = await operations.history(gw, fleet.config, "no-such-app")
    assert known.known and known.boots is not None
    assert [r.rollout_id for r in known.rollouts] == [
        r["rollout_id"] for r in reversed(fleet.rollouts())
    ]
    assert not unknown.known and unknown.rollouts == ()
