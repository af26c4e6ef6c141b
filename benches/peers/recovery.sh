#!/usr/bin/env bash
# Recovery benchmark: izaber-wamp vs Python's swampyer after the test router crashes and
# restarts (see recovery.py).
#   bash benches/peers/recovery.sh           full benchmark, writes benches/results/recovery.md (~8 minutes)
#   bash benches/peers/recovery.sh --smoke   CI smoke test: one short outage of each kind (< 1 minute)
# Uses the router venv: $IZABER_ROUTER_VENV, or tests/router/.venv (bash tests/router/setup-venv.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
venv="${IZABER_ROUTER_VENV:-tests/router/.venv}"
if [[ ! -x "$venv/bin/python" || ! -e "$venv/.izaber-router-venv-complete" ]]; then
    echo "recovery.sh: no complete router venv at $venv; create it with: bash tests/router/setup-venv.sh" >&2
    exit 2
fi
exec "$venv/bin/python" benches/peers/recovery.py "$@"
