#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: `bash fuzz/run.sh [SECONDS]` (default 20 each);
# FUZZ_TARGETS="decode_json rawsocket" runs only those.
#
# Works on a fresh machine with only the stable toolchain: installs cargo-fuzz if it is
# missing, builds the targets with libFuzzer and AddressSanitizer, then runs each one from its
# committed seeds (fuzz/seeds/TARGET) plus what earlier runs found (fuzz/corpus/TARGET, not
# committed). Exits 0 when no target failed; on a crash, a hang or a leak it prints the
# offending input's path and how to replay it, and exits 1. Build failures exit 2.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${1:-20}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [SECONDS per target, default 20]" >&2
    exit 2
fi
read -r -a targets <<<"${FUZZ_TARGETS:-decode_json decode_msgpack decode_cbor rawsocket websocket}"
# The newest release tested with this script; any cargo-fuzz already installed is used as is.
cargo_fuzz_version=0.13.2

# cargo-fuzz passes nightly-only flags (-Zsanitizer=address); RUSTC_BOOTSTRAP lets the stable
# compiler accept them. Only the fuzz build sees it: the library itself stays on stable Rust.
export RUSTC_BOOTSTRAP=1
# Cargo caches the compiler's answers in target/.rustc_info.json, failures included and
# without regard to RUSTC_BOOTSTRAP: one `cargo fuzz` run without it leaves every later build
# failing with "the option `Z` is only accepted on the nightly compiler". It is only a cache.
rm -f fuzz/target/.rustc_info.json

elapsed() { echo "$((SECONDS - $1)) s"; }

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz $cargo_fuzz_version"
    start=$SECONDS
    cargo install --locked cargo-fuzz --version "$cargo_fuzz_version"
    echo "installed cargo-fuzz in $(elapsed "$start")"
fi
echo "== $(cargo fuzz --version)"

echo "== building ${targets[*]}"
start=$SECONDS
if ! cargo fuzz build; then
    echo "the fuzz targets did not build" >&2
    exit 2
fi
echo "built in $(elapsed "$start")"

failed=()
for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    artifacts="fuzz/artifacts/$target"
    log="fuzz/artifacts/$target.log"
    mkdir -p "$corpus" "$artifacts"
    echo "== $target: ${seconds} s"
    # -timeout: one input taking this long is reported as a hang (the rawsocket and websocket
    # targets' own waits add up to about 15 s at worst). The corpus directory comes first:
    # libFuzzer adds what it finds there and only reads the seeds.
    if cargo fuzz run "$target" "$corpus" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -timeout=30 -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^Done [0-9]+ runs' "$log" || true
        grep -E 'DONE +cov' "$log" || true
        continue
    fi
    failed+=("$target")
    echo "!! $target FAILED (full log: $log)"
    # The panic message (or the sanitizer's report), without the backtrace.
    sed -n -E '/panicked at|==[0-9]+== ?ERROR|^ERROR: libFuzzer/,/stack backtrace|^    #[0-9]/p' "$log" \
        | head -n 30
    grep -E '^SUMMARY' "$log" || tail -n 30 "$log"
    inputs="$(grep -oE 'Test unit written to [^ ]+' "$log" | sed 's/^Test unit written to //' || true)"
    if [[ -z "$inputs" ]]; then
        echo "!! no crashing input was saved; see the log"
    fi
    for input in $inputs; do
        input="${input#"$PWD/"}"
        echo "!! crashing input: $input"
        echo "!!   replay: RUSTC_BOOTSTRAP=1 cargo fuzz run $target $input"
    done
done

if ((${#failed[@]})); then
    echo "== fuzzing FAILED: ${failed[*]}"
    exit 1
fi
echo "== fuzzing passed: ${targets[*]}, ${seconds} s each"
