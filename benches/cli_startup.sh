#!/usr/bin/env bash
# Start-to-first-result time of `izaber-wamp whoami` against Python izaber-wamp's one-liner (see cli_startup.py).
#   bash benches/cli_startup.sh            writes benches/results/cli_startup.md (under a minute)
#   bash benches/cli_startup.sh --smoke    CI smoke test: two runs each, writes nothing
# Uses the router venv: $IZABER_ROUTER_VENV, or tests/router/.venv (bash tests/router/setup-venv.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv="${IZABER_ROUTER_VENV:-tests/router/.venv}"
if [[ ! -x "$venv/bin/python" || ! -e "$venv/.izaber-router-venv-complete" ]]; then
    echo "cli_startup.sh: no complete router venv at $venv; create it with: bash tests/router/setup-venv.sh" >&2
    exit 2
fi
exec "$venv/bin/python" benches/cli_startup.py "$@"
