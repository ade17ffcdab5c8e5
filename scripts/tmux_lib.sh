# Shared by the tmux scripts: the session's screen, waiting on it, failing with it, cleanup.
# The sourcing script sets SESSION, WORK and LOCALAWS_PID first.
# shellcheck shell=bash
cleanup() {
  tmux kill-session -t "$SESSION" 2>/dev/null || true
  if [ -n "$LOCALAWS_PID" ] && kill -0 "$LOCALAWS_PID" 2>/dev/null; then
    kill "$LOCALAWS_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

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

# The console's state as the scripts check it: instance rows on screen, the session, the
# sandbox's pid (from its endpoint file, into LOCALAWS_PID) and whether it is still alive.
instances_shown() { [ "$(screen | grep -cE '^ +i-[0-9a-f]+ ')" -ge "$1" ]; }
session_gone() { ! tmux has-session -t "$SESSION" 2>/dev/null; }
localaws_recorded() {
  LOCALAWS_PID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' \
    "$FRESHFLEET_ENDPOINT_FILE" 2>/dev/null) && [ -n "$LOCALAWS_PID" ]
}
localaws_gone() { ! kill -0 "$LOCALAWS_PID" 2>/dev/null; }
