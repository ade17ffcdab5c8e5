#!/usr/bin/env bash
# Drive `freshfleet` in tmux as a new user would: it opens on the embedded local sandbox,
# shows demo-web and its 3 instances, `?` lists the keys, `q` quits and no localaws is
# left behind. Extra arguments go to freshfleet (the tests pass `--boot simulated`).
# Exits non-zero, with the screen, at the first step that does not hold.
SESSION="ff-smoke-$$"
# shellcheck source=scripts/tmux_lib.sh
. "$(dirname "$0")/tmux_lib.sh"  # strict mode; the working directory is the repo root by now

start_session "$FRESHFLEET $*"
opens_on_the_sandbox 20
wait_for 10 "demo-web serves v1" shows "demo-web  serving v1"
keys "?"
wait_for 10 "? shows the keys" shows "Filter rows by any column"
keys Escape
wait_for 10 "Esc closes the help" shows "demo-web  serving v1"
quits_cleanly 30 freshfleet
[ ! -e "$FRESHFLEET_ENDPOINT_FILE" ] || fail "the endpoint file was left behind"
echo "ok: console smoke passed"
