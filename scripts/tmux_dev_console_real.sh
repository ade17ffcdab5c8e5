#!/usr/bin/env bash
# The README's first command on a machine with a Docker engine, driven in tmux as a newcomer
# would: `./dev console` sets up what real boots need (as root) and opens the demo on real
# boots; `l` on an instance shows its console, where the boot agent fetches, verifies and
# builds the release (`build ok`) and runs it; `q` quits and no localaws is left behind.
# Exits non-zero, with the screen, at the first step that does not hold.
SESSION="ff-dev-real-$$"
# shellcheck source=scripts/tmux_lib.sh
. "$(dirname "$0")/tmux_lib.sh"  # strict mode; the working directory is the repo root by now

start_session "$REPO/dev console"
# A fresh machine installs the venv first: minutes, not seconds.
opens_on_the_sandbox 900
wait_for 10 "the header says the instances boot for real" shows "real boots"
keys l
wait_for 30 "l opens the instance's console" shows "freshfleet-boot "
# The first start may build the release base image (mmdebstrap, a minute or two).
wait_for 600 "the instance built its release for real" shows " build ok"
wait_for 120 "and runs it" shows " run ok"
keys Escape
wait_for 10 "Esc goes back to the fleet" instances_shown 3
quits_cleanly 60 "./dev console"
echo "ok: ./dev console showed real boots"
