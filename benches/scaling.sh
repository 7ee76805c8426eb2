#!/usr/bin/env bash
# benches/scaling.sh -- directory speed-up: 1 vs 2 (vs N) worker threads on a directory of
# captures made by slicing one capture with editcap -c.
#
# Usage: benches/scaling.sh CAPTURE [PIECES] [THREADS...]
#   PIECES  number of slices (default 8); THREADS default "1 2". Env: REPEAT=N runs each (default 3).
# Slices go to a temporary directory (removed at exit). A connection that straddles a slice
# boundary is seen as two partial connections, so counts differ from the whole file; the
# point is throughput across files.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TLSCAP="${CARGO_TARGET_DIR:-$ROOT/target}/release/tlscap"
CAP=${1:?usage: $0 CAPTURE [PIECES] [THREADS...]}
PIECES=${2:-8}
shift $(( $# >= 2 ? 2 : 1 ))
THREADS=("$@")
[ ${#THREADS[@]} -gt 0 ] || THREADS=(1 2)
command -v editcap > /dev/null || { echo "needs editcap (wireshark-common)" >&2; exit 1; }
[ "${SKIP_BUILD:-0}" = 1 ] || (cd "$ROOT" && cargo build --release --quiet --bin tlscap)

DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
packets=$(capinfos -c -M "$CAP" | awk -F': *' '/Number of packets/ {print $2}')
per=$(( (packets + PIECES - 1) / PIECES ))
editcap -c "$per" "$CAP" "$DIR/slice.pcap"
cat "$DIR"/* > /dev/null
echo "== $CAP: $packets packets in $(ls "$DIR" | wc -l) slices of $per packets"
printf '%-8s %8s %10s %8s\n' threads wall_s peak_MiB speedup
# Each thread count runs REPEAT times (default 3), counts taken in turn so a noisy moment hits
# them alike; the fastest run of each is kept (peak memory: the largest).
REPEAT=${REPEAT:-3}
declare -A best peak
for r in $(seq "$REPEAT"); do
  for t in "${THREADS[@]}"; do
    /usr/bin/time -v -o "$DIR/.time" "$TLSCAP" -q --threads "$t" --format json -o /dev/null "$DIR"
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {
             n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$DIR/.time")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$DIR/.time")
    if [ -z "${best[$t]:-}" ] || awk -v a="$wall" -v b="${best[$t]}" 'BEGIN {exit !(a < b)}'; then
      best[$t]=$wall
    fi
    [ "$rss" -gt "${peak[$t]:-0}" ] && peak[$t]=$rss
  done
done
base=""
for t in "${THREADS[@]}"; do
  base=${base:-${best[$t]}}
  awk -v t="$t" -v w="${best[$t]}" -v r="${peak[$t]}" -v b="$base" \
    'BEGIN { printf "%-8s %8.2f %10.1f %8.2f\n", t, w, r / 1024, b / w }'
done
