#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each). Not part of CI: the
# README's test suite runs the same parsers under proptest.
# Needs cargo-fuzz (`cargo install cargo-fuzz`); this machine has only stable Rust, so
# the nightly flags cargo-fuzz passes are allowed with RUSTC_BOOTSTRAP=1.
# Usage: fuzz/run.sh [seconds per target]
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
failed=0
for target in form basic_header redirect_uri jwt registration; do
  log=$(mktemp)
  if cargo fuzz run "$target" -- -max_total_time="$secs" -rss_limit_mb=2048 >"$log" 2>&1; then
    echo "$target: ok, $(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#') runs in $secs s"
  else
    echo "$target: FAILED (see fuzz/artifacts/$target)"; tail -30 "$log"; failed=1
  fi
  rm -f "$log"
done
exit $failed
