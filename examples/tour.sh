#!/usr/bin/env bash
# The Quick start's main job: a tour of the library against a local Nexus-like router that
# the tour starts and stops itself, ending with a few commands of the `izaber-wamp` tool
# (cli/). Sets up the router's Python venv the first time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tests/router/setup-venv.sh
cargo build --quiet -p izaber-wamp-cli
IZABER_WAMP_CLI="$PWD/target/debug/izaber-wamp" exec cargo run --quiet --example tour
