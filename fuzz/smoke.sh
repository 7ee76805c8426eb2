#!/usr/bin/env bash
# Runs every fuzz target for a short time on its committed seeds (fuzz/seeds/<target>); new
# inputs go to a temporary directory, so the committed seeds stay as they are. Exits non-zero on
# the first crash, leak, timeout or out-of-memory (the input is saved in fuzz/artifacts/<target>/).
#   fuzz/smoke.sh [SECONDS_PER_TARGET] [TARGET...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
secs="${1:-20}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
# No sanitizer: the crate's parsing code is safe Rust, and without ASan the build and the runs
# are about twice as fast. Debug assertions on: overflow checks and the reassembler's invariants.
flags=(-s none -a)
cargo +nightly fuzz build "${flags[@]}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
  dict=""
  case "$t" in
    http) dict="-dict=dict/http.dict" ;;
    tls | decrypt | pipeline) dict="-dict=dict/tls.dict" ;;
  esac
  mkdir -p "$work/$t"
  echo "fuzz smoke: $t for ${secs}s"
  if ! cargo +nightly fuzz run "${flags[@]}" "$t" "$work/$t" "seeds/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 $dict \
    >"$work/$t.log" 2>&1; then
    tail -n 60 "$work/$t.log" >&2
    echo "fuzz smoke: $t FAILED; reproduce with: cargo +nightly fuzz run ${flags[*]} $t fuzz/artifacts/$t/<file>" >&2
    exit 1
  fi
  grep -E "stat::number_of_executed_units|^#[0-9]+ +DONE" "$work/$t.log" || true
done
echo "fuzz smoke: ${#targets[@]} targets passed"
