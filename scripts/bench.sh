#!/usr/bin/env bash
# Benchmarks of the release binary against the fake API; see scripts/bench.py (Python 3.11+,
# standard library only). A full run rewrites BENCHMARKS.md:
#   scripts/bench.sh                   # build, measure everything, rewrite BENCHMARKS.md
#   scripts/bench.sh --only cold_start # one measure, printed only
#   scripts/bench.sh --quick           # fewer runs, printed only
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/bench.py "$@"
