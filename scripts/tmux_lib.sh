# Shared by the tmux scripts: strict mode, the repo root as working directory, their work
# directory, the session, its screen, waiting on it, failing with it, cleanup. The sourcing
# script sets SESSION (its tmux session's name) and sources this file by its path
# (`. "$(dirname "$0")/tmux_lib.sh"`); it gets REPO, FRESHFLEET (the command, unless set) and
# WORK (a fresh directory), with a private endpoint file and config dir there, so no running
# localaws or user config is reused.
# shellcheck shell=bash
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
FRESHFLEET=${FRESHFLEET:-$REPO/.venv/bin/freshfleet}
WORK=$(mktemp -d)
export FRESHFLEET_ENDPOINT_FILE="$WORK/localaws.json" XDG_CONFIG_HOME="$WORK/config"
LOCALAWS_PID=""

cleanup() {
  tmux kill-session -t "$SESSION" 2>/dev/null || true
  if [ -n "$LOCALAWS_PID" ] && kill -0 "$LOCALAWS_PID" 2>/dev/null; then
    kill "$LOCALAWS_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# start_session COMMAND: run the shell line COMMAND in a detached 160×45 tmux session, from
# $WORK (this shell moves there too); its exit code is written to $WORK/exit-code. The console
# sizes itself by COLUMNS and LINES where they are set; the test runner's children inherit 80
# and 24 (set below Python's os.environ, which shows neither), so under the tests it draws at
# 80×24 inside the larger window: the small terminal, driven for real.
start_session() {
  cd "$WORK" || exit 1
  # -e: a running tmux server would otherwise hand the session its own environment.
  tmux new-session -d -s "$SESSION" -x 160 -y 45 \
    -e "FRESHFLEET_ENDPOINT_FILE=$FRESHFLEET_ENDPOINT_FILE" -e "XDG_CONFIG_HOME=$XDG_CONFIG_HOME" \
    "$1; echo \$? > $WORK/exit-code"
}

# exited_ok NAME: the session's command exited 0; otherwise fail, naming it.
exited_ok() {
  [ "$(cat "$WORK/exit-code")" = 0 ] || fail "$1 exited with $(cat "$WORK/exit-code")"
}

screen() { tmux capture-pane -p -t "$SESSION" 2>/dev/null || true; }

fail() {
  echo "FAIL: $*" >&2
  echo "---- screen ----" >&2
  screen >&2
  exit 1
}

# wait_for SECONDS DESCRIPTION COMMAND...: run COMMAND every 0.2 s until it succeeds.
wait_for() {
  local within=$1 what=$2
  shift 2
  local deadline=$((SECONDS + within))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${within}s waiting for $what"
    sleep 0.2
  done
  echo "ok: $what"
}

shows() { screen | grep -q -- "$1"; }

# keys KEY...: press KEYs in the session (tmux send-keys names: Enter, Escape, Down, ...).
keys() { tmux send-keys -t "$SESSION" "$@"; }

# The console's state as the scripts check it: instance rows on screen, the session, the
# sandbox's pid (from its endpoint file, into LOCALAWS_PID) and whether it is still alive.
instances_shown() { [ "$(screen | grep -cE '^ +i-[0-9a-f]+ ')" -ge "$1" ]; }
session_gone() { ! tmux has-session -t "$SESSION" 2>/dev/null; }
localaws_recorded() {
  LOCALAWS_PID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' \
    "$FRESHFLEET_ENDPOINT_FILE" 2>/dev/null) && [ -n "$LOCALAWS_PID" ]
}
localaws_gone() { ! kill -0 "$LOCALAWS_PID" 2>/dev/null; }

# sandbox_pid_known: wait (10 s at most) until the sandbox's endpoint file names its pid, for
# quits_cleanly to check that it stops.
sandbox_pid_known() {
  wait_for 10 "the sandbox's endpoint file names its pid" localaws_recorded
}

# opens_on_the_sandbox SECONDS: the console opens on the local sandbox within SECONDS (a
# fresh machine installs first) and lists demo-web's 3 instances; the sandbox's pid is noted
# for quits_cleanly. How every script's session begins.
opens_on_the_sandbox() {
  wait_for "$1" "the console opens on the local sandbox" shows "LOCAL SANDBOX"
  wait_for 120 "demo-web's 3 instances are listed" instances_shown 3
  sandbox_pid_known
}

# quits_cleanly SECONDS NAME: `q` ends the console, whose command NAME exits 0, and the
# sandbox it started (LOCALAWS_PID, from localaws_recorded) stops with it, each within SECONDS.
quits_cleanly() {
  keys q
  wait_for "$1" "q quits the console" session_gone
  exited_ok "$2"
  wait_for "$1" "no localaws process is left behind (pid $LOCALAWS_PID)" localaws_gone
}
