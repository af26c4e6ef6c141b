#!/usr/bin/env bash
# The whole test suite, on a machine that has never seen this project: sets up the router's
# Python venv (crossbar, swampyer, izaber-wamp, izaber-wamp-zerp, pytest), checks formatting and lints, runs the
# Python oracle tests of the router fixture, then every Rust test (unit, integration against
# real routers, examples, doc tests), with short smoke runs of the benchmarks and the fuzzers.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== router venv"
bash tests/router/setup-venv.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo package (the crate as it would be published, built from the package alone)"
# Early, while the work tree is as cloned: packaging refuses uncommitted changes.
cargo package --locked -p izaber-wamp --quiet

echo "== API compatibility: cargo semver-checks against the last release (.ci/semver-baseline)"
bash .ci/semver-checks.sh

echo "== router oracle tests (swampyer against the Nexus-like router, izaber-wamp-zerp against its ZERP backend)"
bash tests/router/run-oracle-tests.sh

echo "== cargo doc (broken links and missing docs fail)"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --quiet

# Benchmarks are not timed tests: they only run briefly here, so that they cannot rot.
echo "== benchmark smoke: our bench and swampyer's against the router"
bash benches/peers/run.sh --smoke
echo "== events benchmark smoke: our publisher and subscriber and the floor's, 1 s phases"
bash benches/peers/events.sh --smoke
echo "== recovery benchmark smoke: ours and swampyer's callees come back after a router crash"
bash benches/peers/recovery.sh --smoke
echo "== memory benchmark smoke: a service after large messages"
bash benches/memory.sh --smoke
echo "== bounds benchmark smoke: a callee under a burst of slow calls, a slow subscriber"
bash benches/bounds.sh --smoke
echo "== rolling restart: one round, SIGTERM to each instance of a shared procedure; fails on a failed call"
bash benches/rolling.sh --smoke
echo "== command-line start-up smoke: izaber-wamp whoami beside Python's one-liner"
bash benches/cli_startup.sh --smoke
echo "== codec micro-benchmarks, quick mode"
cargo bench --locked --bench codec -- --quick >/dev/null

echo "== fuzzing message decoding and the RawSocket client, ${FUZZ_SECONDS:-20} s per target"
bash fuzz/run.sh "${FUZZ_SECONDS:-20}"

echo "== session core simulation: 100,000 random schedules against its invariants (optimized build)"
cargo test --locked --release --lib session::core::sim

echo "== cargo test"
# Unit and integration tests (examples are built and run by tests/examples.rs), then doc
# tests; last, so that the suite's verdict closes the output.
cargo test --locked --lib --tests
# The command-line tool (cli/, a crate of its own) against the router.
cargo test --locked -p izaber-wamp-cli
cargo test --locked --doc
