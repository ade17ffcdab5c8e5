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
