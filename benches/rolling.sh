#!/usr/bin/env bash
# Rolling restarts (see rolling.py): failed calls while the instances of a shared procedure are
# stopped with SIGTERM and started again, for our service, the command line and Python swampyer.
#   bash benches/rolling.sh            writes benches/results/rolling.md (a few minutes)
#   bash benches/rolling.sh --smoke    CI: one round of ours; fails if a call failed
# Uses the router venv: $IZABER_ROUTER_VENV, or tests/router/.venv (bash tests/router/setup-venv.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv="${IZABER_ROUTER_VENV:-tests/router/.venv}"
if [[ ! -x "$venv/bin/python" || ! -e "$venv/.izaber-router-venv-complete" ]]; then
    echo "rolling.sh: no complete router venv at $venv; create it with: bash tests/router/setup-venv.sh" >&2
    exit 2
fi
exec "$venv/bin/python" benches/rolling.py "$@"
