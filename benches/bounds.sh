#!/usr/bin/env bash
# Bursts a service survives (see bounds.py): threads and memory under 2,000 slow calls and 200,000 events.
#   bash benches/bounds.sh            writes benches/results/bounds.md (a few minutes)
#   bash benches/bounds.sh --smoke    CI smoke test: small bursts, writes nothing
# Uses the router venv: $IZABER_ROUTER_VENV, or tests/router/.venv (bash tests/router/setup-venv.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv="${IZABER_ROUTER_VENV:-tests/router/.venv}"
if [[ ! -x "$venv/bin/python" || ! -e "$venv/.izaber-router-venv-complete" ]]; then
    echo "bounds.sh: no complete router venv at $venv; create it with: bash tests/router/setup-venv.sh" >&2
    exit 2
fi
exec "$venv/bin/python" benches/bounds.py "$@"
