"""Why a rollout could not start or had to stop."""

from __future__ import annotations


class RolloutInputError(ValueError):
    """Bad input (unknown app or release, unsafe user data): nothing was created in AWS."""


class RolloutStop(Exception):
    """A step cannot go on: `reason` says why (the boot agent's or AWS's words)."""

    def __init__(self, reason: str, *, aborted: bool = False, rollback: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.aborted = aborted
        self.rollback = rollback  # an abort asked for as a rollback (flip back during the bake)


class KeepServing(RolloutStop):
    """A flip back was refused: the group it would flip to cannot take all the traffic, so
    the new group keeps serving."""


class LeaseLost(Exception):
    """This process no longer holds the app's deploy lock (another owner took it over, or
    it was force-released): the rollout stops where it stands, acting on nothing more and
    writing nothing more, since the lock's new holder (if any) drives it now."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
