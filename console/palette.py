"""The colours of a rollout's words, one palette for every face: a state or a step status
shows in the same colour in the CLI's output and in the Textual console."""

from __future__ import annotations

from rollout.ledger.vocabulary import RolloutState, StepStatus

# A rollout's state: green serves the new release, yellow stopped safely on the old one,
# red failed, cyan still on its way, magenta left in traffic for `resume` or `rollback`.
STATE_STYLE: dict[str, str] = {
    RolloutState.SUCCEEDED: "green",
    RolloutState.FAILED: "red",
    RolloutState.ROLLED_BACK: "yellow",
    RolloutState.ABORTED: "yellow",
    RolloutState.RUNNING: "cyan",
    RolloutState.PLANNED: "cyan",
    RolloutState.DETACHED: "magenta",
}

# A step's status, as it runs and as it ended.
STEP_STYLE: dict[str, str] = {
    StepStatus.OK: "green",
    StepStatus.RUNNING: "yellow",
    StepStatus.FAILED: "red",
    StepStatus.ABORTED: "yellow",
    StepStatus.INTERRUPTED: "yellow",
    StepStatus.SKIPPED: "dim",
}
