#!/usr/bin/env bash
# Run the Python oracle tests of the test router (tests/router/test_nexus.py)
# with swampyer as the client. Creates the venv first if needed.
#
#   bash tests/router/run-oracle-tests.sh [pytest arguments...]
#
# Exits non-zero when a test fails (or when no test ran).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/setup-venv.sh"
venv="${IZABER_ROUTER_VENV:-$here/.venv}"
cd "$here"
exec "$venv/bin/python" -m pytest -p no:cacheprovider -q "$@" test_nexus.py
