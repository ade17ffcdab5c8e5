"""A watch (the canary's and the bake's) rolls back on a shortfall of healthy targets that
persists `shortfall_polls` readings in a row, not on one poll: a target that blinks once
(a slow health check answer on a busy host) is no reason to flip a fleet back."""

from __future__ import annotations

from rollout.config import RolloutSettings
from rollout.deploy.watch import Shortfall


def test_a_watch_rolls_back_only_on_a_shortfall_that_persists():
    assert RolloutSettings().shortfall_polls == 3
    seen = Shortfall(wanted=3, polls=3)
    # One poll short, then whole again: no rollback; three short in a row: rollback.
    assert [seen.persists(h) for h in (2, 3, 2, 2, 3, 1, 0, 2)] == [
        False, False, False, False, False, False, False, True,
    ]  # fmt: skip
    assert Shortfall(wanted=3, polls=0).persists(2)  # at least one reading
