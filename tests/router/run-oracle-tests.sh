#!/usr/bin/env bash
# Run the Python oracle tests of the test router: test_nexus.py (the Nexus part, with swampyer
# and Autobahn|Python) and test_zerp.py (the ZERP backend, with izaber-wamp-zerp). Creates the
# venv first if needed.
#
#   bash tests/router/run-oracle-tests.sh [pytest arguments...]
#
# When the arguments name test files (e.g. tests/router/test_zerp.py or test_zerp.py::test_x),
# only those run; otherwise both files do.
#
# Exits non-zero when a test fails (or when no test ran).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/setup-venv.sh"
venv="${IZABER_ROUTER_VENV:-$here/.venv}"
files=(test_nexus.py test_zerp.py)
args=()
for a in "$@"; do
    path="${a%%::*}"
    if [[ "$path" == *.py ]]; then
        files=()
        # a path given from elsewhere still works after the cd below
        if [[ -e "$path" ]]; then
            a="$(cd "$(dirname "$path")" && pwd)/$(basename "$path")${a#"$path"}"
        fi
    fi
    args+=("$a")
done
cd "$here"
exec "$venv/bin/python" -m pytest -p no:cacheprovider -q ${args[@]+"${args[@]}"} ${files[@]+"${files[@]}"}
