#!/usr/bin/env bash
# The Latchkey benchmark (issue 5): builds the release binaries, installs wrk if absent,
# and runs bench/run.py, which prints a markdown report and writes it to bench/results/.
# Usage: bench/run.sh [--rounds N] [--seconds S] [--connections 1,16,64] [--postgres URL|off]
#                     [--history-rows N]        (bench/run.py --help for all options)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
(cd "$here/.." && cargo build --release -p latchkey -p latchkey-baseline)
exec python3 "$here/run.py" "$@"
