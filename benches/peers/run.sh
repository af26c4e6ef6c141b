#!/usr/bin/env bash
# Benchmarks izaber-wamp against Python's swampyer on the test router (see run.py).
#   bash benches/peers/run.sh           full comparison, writes benches/results/peers.md (a few minutes)
#   bash benches/peers/run.sh --smoke   CI smoke test: a handful of calls (< 1 minute)
#   ... --js-rounds N                   also Autobahn|JS on Node.js (npm ci in benches/peers/autobahn_js)
# Uses the router venv: $IZABER_ROUTER_VENV, or tests/router/.venv (bash tests/router/setup-venv.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
venv="${IZABER_ROUTER_VENV:-tests/router/.venv}"
if [[ ! -x "$venv/bin/python" || ! -e "$venv/.izaber-router-venv-complete" ]]; then
    echo "run.sh: no complete router venv at $venv; create it with: bash tests/router/setup-venv.sh" >&2
    exit 2
fi
exec "$venv/bin/python" benches/peers/run.py "$@"
