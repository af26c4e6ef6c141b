#!/usr/bin/env bash
# Create (or reuse) the Python venv that runs the test router (Crossbar.io plus
# our Nexus component) and the Python oracle tests.
#
#   bash tests/router/setup-venv.sh
#
# The venv lives in tests/router/.venv unless IZABER_ROUTER_VENV names another
# directory. A marker file is written only after every step succeeded, so an
# interrupted install is thrown away and redone on the next run. The marker
# holds SETUP_VERSION: bump it when the package list below changes, so that
# existing venvs are rebuilt.
#
# Versions come from requirements.txt (exact pins), so that every run tests against the same
# router and peers. To move to the newest releases on purpose:
#
#   bash tests/router/setup-venv.sh --refresh-pins
#
# which builds the venv from the unpinned package list below and rewrites requirements.txt.
#
# Set PYTHON to choose the interpreter that creates the venv (default python3).
set -euo pipefail

SETUP_VERSION=3
# What the router and the tests need; requirements.txt pins these and their dependencies.
# swampyer is the oracle the fixture is tested with; izaber-wamp (Zaber's Python library) is
# for interop tests; izaber-wamp-zerp (its ZERP client, with wampcli) is the oracle of the
# ZERP backend (test_zerp.py).
PACKAGES=(crossbar swampyer izaber-wamp izaber-wamp-zerp pytest)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${IZABER_ROUTER_VENV:-$here/.venv}"
python="${PYTHON:-python3}"
marker="$venv/.izaber-router-venv-complete"
pins="$here/requirements.txt"

refresh=false
case "${1:-}" in
    "") ;;
    --refresh-pins) refresh=true ;;
    *) echo "usage: $0 [--refresh-pins]" >&2; exit 2 ;;
esac

log() { echo "setup-venv: $*" >&2; }

is_complete() {
    [[ -f "$marker" && "$(cat "$marker")" == "$SETUP_VERSION" && -x "$venv/bin/python" && -x "$venv/bin/crossbar" ]]
}

# Several test processes may call this at once: serialise on a lock next to
# the venv so that only one installs and the others then see the marker.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9

if ! $refresh && is_complete; then
    log "venv ready: $venv"
    exit 0
fi

log "creating venv in $venv (crossbar is large; this takes a minute or two)"
rm -rf "$venv"
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-input --quiet)

if $refresh; then
    "${pip[@]}" install --upgrade pip setuptools wheel
    "${pip[@]}" install "${PACKAGES[@]}"
else
    # pip itself first, so that the pinned pip resolves the rest.
    "${pip[@]}" install $(grep -E '^(pip|setuptools|wheel)==' "$pins")
    "${pip[@]}" install -r "$pins"
fi
# The bjdata wheel on PyPI was compiled against NumPy 1.x; with the NumPy 2
# that crossbar pulls in, every router worker logs "_ARRAY_API not found" and
# a traceback at start. Rebuild it from source against the installed NumPy
# (no wheel, no cached wheel, no isolated build env with another NumPy).
bjdata=$("$venv/bin/python" -m pip freeze 2>/dev/null | grep -E '^bjdata==')
"${pip[@]}" install --force-reinstall --no-deps --no-build-isolation \
    --no-binary bjdata --no-cache-dir "$bjdata"

# Check that what we need actually imports and runs before declaring success.
"$venv/bin/python" -c 'import crossbar, autobahn, cryptography, swampyer, izaber.wamp, izaber_wamp_zerp, pytest'
"$venv/bin/crossbar" version >/dev/null
[[ -x "$venv/bin/wampcli" ]]
if "$venv/bin/python" -c 'import bjdata' 2>&1 | grep -q '_ARRAY_API'; then
    log "bjdata is still built against NumPy 1.x; the router would log tracebacks"
    exit 1
fi

if $refresh; then
    {
        sed -n '1,/^# purpose with/p' "$pins"
        "$venv/bin/python" -m pip freeze --all 2>/dev/null | sort -f
    } >"$pins.new"
    mv "$pins.new" "$pins"
    log "requirements.txt rewritten from the newest releases; run the tests, then commit it"
fi

echo "$SETUP_VERSION" >"$marker"
log "venv ready: $venv"
