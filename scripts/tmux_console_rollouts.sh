#!/usr/bin/env bash
# A whole session by keys, in tmux, as a new user would: deploy v2 and watch it succeed,
# deploy v3 and see its gate fail with the reason while v2 keeps serving, roll back to
# v1 (choosing the fresh deploy, with its ETA, as the bake is over), quit, and leave no localaws behind. Extra arguments go to freshfleet (the tests
# pass `--boot simulated`). Exits non-zero, with the screen, at the first failed step.
SESSION="ff-rollouts-$$"
# shellcheck source=scripts/tmux_lib.sh
. "$(dirname "$0")/tmux_lib.sh"  # strict mode; the working directory is the repo root by now

# The demo's timers, shorter: a 3 s bake and a 15 s gate deadline for v3.
cat > "$WORK/freshfleet.toml" <<'TOML'
[rollout]
bake_seconds = 3
gate_deadline_seconds = 15
poll_seconds = 0.5
TOML

# confirm: the dialog opens on Cancel; Tab moves to the action button, Enter presses it.
# The pause lets the dialog focus Cancel first, however loaded the machine is.
confirm() {
  sleep 1
  keys Tab
  sleep 0.5
  keys Enter
}
no_rollout_running() { ! screen | grep -qE 'rollout [0-9]{8}-[0-9]{6}-[0-9a-f]{4} running'; }

start_session "$FRESHFLEET $*"
opens_on_the_sandbox 120
wait_for 10 "demo-web serves v1" shows "demo-web  serving v1"
wait_for 60 "its instances are healthy" shows "healthy 3/3"

# 1. deploy v2 (releases are listed newest first: v5, v4, v3, v2, v1)
keys d
wait_for 30 "d opens the release picker" shows "pick a release"
keys Down Down Down
sleep 0.3
keys Enter
wait_for 30 "the plan of v2 is shown" shows "Deploy demo-web v2"
confirm
wait_for 30 "the rollout screen follows it" shows "of demo-web"
wait_for 120 "the v2 rollout succeeds" shows "succeeded — "
keys Escape
wait_for 30 "the fleet shows v2 serving" shows "demo-web  serving v2"

# 2. deploy v3: never healthy, its gate fails with the reason
keys d
wait_for 30 "the release picker again" shows "pick a release"
keys Down Down
sleep 0.3
keys Enter
wait_for 30 "the plan of v3 is shown" shows "Deploy demo-web v3"
confirm
wait_for 30 "the rollout screen follows v3" shows "of demo-web"
wait_for 120 "v3's gate fails and says why" shows "gate  *failed"
# Its cleanup deletes the v3 group, which AWS takes a while to do: the rollout has ended
# only then (pressing r before would find it unfinished).
wait_for 120 "v3's rollout ends, its group deleted" shows "failed — "
keys Escape
wait_for 30 "v2 still serves" shows "demo-web  serving v2"

# 3. roll back: the bake of v2 is over, so there is no group to flip back to; the choice
#    is a fresh deploy of the previous release (v1), with its ETA from the recorded boots
keys r
wait_for 30 "r offers the ways back" shows "choose a way back"
wait_for 10 "the flip back says why it is not possible" shows "no retained group: the bake ended at"
wait_for 10 "the fresh deploy of v1 shows its ETA" shows "v1: ETA ~"
confirm  # Tab skips the disabled Flip back: Deploy v1
wait_for 30 "the rollback's plan is shown" shows "Roll back demo-web v1"
confirm
wait_for 30 "the rollout screen follows the rollback" shows "of demo-web"
wait_for 120 "the rollback succeeds" shows "succeeded — "
keys Escape
wait_for 30 "v1 serves again" shows "demo-web  serving v1"
wait_for 60 "the rollback's bake is over and v2 retired" no_rollout_running

quits_cleanly 30 freshfleet
echo "ok: console rollouts session passed"
