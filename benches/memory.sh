#!/usr/bin/env bash
# Memory after large messages (see memory.py): RSS of a service after a burst of 1-8 MiB calls.
#   bash benches/memory.sh            writes benches/results/memory.md (a few minutes)
#   bash benches/memory.sh --smoke    CI smoke test: one short run per transport, writes nothing
# Uses the router venv: $IZABER_ROUTER_VENV, or tests/router/.venv (bash tests/router/setup-venv.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv="${IZABER_ROUTER_VENV:-tests/router/.venv}"
if [[ ! -x "$venv/bin/python" || ! -e "$venv/.izaber-router-venv-complete" ]]; then
    echo "memory.sh: no complete router venv at $venv; create it with: bash tests/router/setup-venv.sh" >&2
    exit 2
fi
exec "$venv/bin/python" benches/memory.py "$@"
