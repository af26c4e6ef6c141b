#!/usr/bin/env bash
# Fails when the library's public API breaks Semantic Versioning against the last release:
# cargo-semver-checks rebuilds the release commit named in .ci/semver-baseline from this
# clone's history, and compares the rustdoc of both. A breaking change passes only once
# Cargo.toml's version says so (a new minor version before 1.0).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Pinned: each release of the tool reads the rustdoc JSON of a range of Rust versions.
tool_version=0.51.0
baseline="$(grep -v '^#' .ci/semver-baseline | awk 'NF { print $1; exit }')"

if ! cargo semver-checks --version 2>/dev/null | grep -qx "cargo-semver-checks $tool_version"; then
    echo "semver-checks: installing cargo-semver-checks $tool_version (a few minutes, once per machine)"
    cargo install --locked --quiet --version "$tool_version" cargo-semver-checks
fi

if ! git cat-file -e "$baseline^{commit}" 2>/dev/null; then
    echo "semver-checks: the release commit $baseline (.ci/semver-baseline) is not in this clone;" >&2
    echo "semver-checks: a shallow clone? fetch the whole history (git fetch --unshallow)." >&2
    exit 1
fi

cargo semver-checks --package izaber-wamp --baseline-rev "$baseline"
