#!/usr/bin/env bash
# The whole test suite, on a machine that has never seen this project: sets up the router's
# Python venv (crossbar, swampyer, izaber-wamp, pytest), checks formatting and lints, runs the
# Python oracle tests of the router fixture, then every Rust test (unit, integration against
# real routers, examples, doc tests). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== router venv"
bash tests/router/setup-venv.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

echo "== router oracle tests (Python swampyer against the Nexus-like router)"
bash tests/router/run-oracle-tests.sh

echo "== cargo doc (broken links and missing docs fail)"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --quiet

echo "== cargo test"
# Unit and integration tests (examples are built and run by tests/examples.rs), then doc tests.
cargo test --locked --lib --tests
cargo test --locked --doc
