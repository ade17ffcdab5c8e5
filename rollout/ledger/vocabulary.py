"""The rollout's words, defined once: its states, its step names and their statuses.

Each is a StrEnum, so a value read from the ledger (a plain string) compares equal to its
member and a member written to the ledger is stored as its string (ARCHITECTURE §3, §4).
"""

from __future__ import annotations

from enum import StrEnum


class RolloutState(StrEnum):
    """Where a rollout stands; `running` and `detached` are the unfinished ones."""

    PLANNED = "planned"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    ABORTED = "aborted"
    DETACHED = "detached"


UNFINISHED: tuple[RolloutState, ...] = (RolloutState.RUNNING, RolloutState.DETACHED)
FINISHED: tuple[RolloutState, ...] = (
    RolloutState.SUCCEEDED,
    RolloutState.FAILED,
    RolloutState.ROLLED_BACK,
    RolloutState.ABORTED,
)


class Strategy(StrEnum):
    """How a new group is brought into traffic (ARCHITECTURE §4)."""

    BLUE_GREEN = "blue-green"
    CANARY = "canary"
    ROLLING = "rolling"


class StepName(StrEnum):
    """The steps a strategy runs (ARCHITECTURE §4), each recorded before and after."""

    PLAN = "plan"
    LAUNCH = "launch"
    GATE = "gate"
    SHIFT = "shift"
    WATCH = "watch"  # a canary's watch at its share
    SCALE = "scale"
    SHRINK = "shrink"  # rolling: the old group gives up a batch
    BAKE = "bake"
    RETIRE = "retire"
    ROLLBACK = "rollback"
    CLEANUP = "cleanup"


class StepStatus(StrEnum):
    """How a step stands or ended."""

    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    ABORTED = "aborted"
    INTERRUPTED = "interrupted"
    SKIPPED = "skipped"


# Statuses that mean a step completed: `ok`, and the words items written before it used.
STEP_DONE: tuple[str, ...] = (StepStatus.OK, "succeeded", "done")
