#!/usr/bin/env bash
# Events (publish/subscribe) benchmark: izaber-wamp, the floor and peers on the test router
# (see events.py and EVENTS.md).
#   bash benches/peers/events.sh           full run, writes benches/results/events.md (several minutes)
#   bash benches/peers/events.sh --smoke   CI smoke test: 1 s phases, ours and the floor (< 1 minute)
# Uses the router venv: $IZABER_ROUTER_VENV, or tests/router/.venv (bash tests/router/setup-venv.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
venv="${IZABER_ROUTER_VENV:-tests/router/.venv}"
if [[ ! -x "$venv/bin/python" || ! -e "$venv/.izaber-router-venv-complete" ]]; then
    echo "events.sh: no complete router venv at $venv; create it with: bash tests/router/setup-venv.sh" >&2
    exit 2
fi
exec "$venv/bin/python" benches/peers/events.py "$@"
