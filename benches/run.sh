#!/usr/bin/env bash
# benches/run.sh -- time tlscap against the floor (and tshark / ndpiReader / ssldump when
# installed) on one capture, in one run, and print wall time, peak memory and ratios.
#
# Usage: benches/run.sh CAPTURE [CAPTURE...]
# Env:   SKIP_BUILD=1      do not run cargo build
#        OTHERS=0          skip tshark / ndpiReader / ssldump (they are slow: ~40x-140x the floor)
#        WARM=1            cat the file to /dev/null first so every tool reads from page cache
#        TLSCAP_ARGS=...   extra tlscap arguments
#        REPEAT=N          runs per program, fastest kept (default 3; the slow others run once)
# Every program runs under /usr/bin/time -v: wall = clock time around it, cpu = user + sys,
# peak = "Maximum resident set size". x_floor = wall / floor's wall; x_f_cpu = cpu / floor's cpu
# (useful on a shared machine, where wall time depends on the neighbours). tlscap writes its JSON to /dev/null; a separate untimed-for-the-table pass
# counts the connections it reported so the count can be checked against tshark's.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
TLSCAP="$TARGET/release/tlscap"
FLOOR="$TARGET/release/examples/floor"
OTHERS=${OTHERS:-1}
REPEAT=${REPEAT:-3}
WARM=${WARM:-1}
TIME=/usr/bin/time
[ -x $TIME ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
[ $# -ge 1 ] || { echo "usage: $0 CAPTURE [CAPTURE...]" >&2; exit 2; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  (cd "$ROOT" && cargo build --release --quiet --bin tlscap --example floor)
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# run NAME CMD... : runs CMD REPEAT times under time -v (stdout to $OUT if set, else
# $TMP/NAME.out) and keeps the
# fastest run: wall seconds (from the clock, ns resolution), its CPU seconds (user + sys), and
# the largest peak RSS KiB of all runs.
run() {
  local name=$1; shift
  local t0 t1 i best="" best_cpu="" rss_max=0
  for i in $(seq "$REPEAT"); do
    t0=$(date +%s.%N)
    if ! $TIME -v -o "$TMP/$name.time" "$@" > "${OUT:-$TMP/$name.out}" 2> "$TMP/$name.err"; then
      echo "  ($name exited non-zero; stderr: $(head -c 300 "$TMP/$name.err"))" >&2
    fi
    t1=$(date +%s.%N)
    local wall cpu rss
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
    cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$TMP/$name.time")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/$name.time")
    [ "$rss" -gt "$rss_max" ] && rss_max=$rss
    if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN {exit !(a < b)}'; then
      best=$wall; best_cpu=$cpu
    fi
  done
  echo "$name $best $best_cpu $rss_max" >> "$TMP/results"
}

for CAP in "$@"; do
  : > "$TMP/results"
  size=$(stat -c %s "$CAP")
  echo "== $CAP ($(awk -v b="$size" 'BEGIN{printf "%.1f MB", b/1e6}'))"
  [ "$WARM" = 1 ] && cat "$CAP" > /dev/null
  # The issue's `cat > /dev/null`: its output must not land in a file (that doubles the work).
  OUT=/dev/null run cat cat "$CAP"
  run floor "$FLOOR" "$CAP"
  # tlscap's capture + net stages only (same read loop shape as the floor, tlscap's code).
  run tlscap_read "$FLOOR" --tlscap "$CAP"
  # shellcheck disable=SC2086
  run tlscap_t2 "$TLSCAP" -q --threads 2 --format json -o /dev/null ${TLSCAP_ARGS:-} "$CAP"
  # shellcheck disable=SC2086
  run tlscap_t1 "$TLSCAP" -q --threads 1 --format json -o /dev/null ${TLSCAP_ARGS:-} "$CAP"
  if [ "$OTHERS" = 1 ]; then
    REPEAT_ALL=$REPEAT; REPEAT=1
    if command -v tshark > /dev/null; then
      # The issue's command, plus tcp.stream so tshark's count of TLS connections is known.
      run tshark tshark -r "$CAP" -Y 'tls.handshake.type==1' -T fields \
        -e tls.handshake.extensions_server_name -e tls.handshake.version -e tcp.stream
    fi
    command -v ndpiReader > /dev/null && run ndpiReader ndpiReader -q -i "$CAP"
    command -v ssldump > /dev/null && run ssldump ssldump -n -N -r "$CAP"
    REPEAT=$REPEAT_ALL
  fi

  # Connections reported by tlscap (one JSON object per connection).
  # shellcheck disable=SC2086
  tl_conns=$("$TLSCAP" -q --format json ${TLSCAP_ARGS:-} "$CAP" | grep -c '"type":"connection"' || true)
  floor_line=$(cat "$TMP/floor.out")
  floor_wall=$(awk '$1 == "floor" {print $2}' "$TMP/results")
  echo "floor: $floor_line"
  floor_cpu=$(awk '$1 == "floor" {print $3}' "$TMP/results")
  printf '%-12s %8s %8s %9s %8s %8s %8s\n' tool wall_s cpu_s peak_MiB x_floor x_f_cpu MB/s
  while read -r name wall cpu rss; do
    awk -v n="$name" -v w="$wall" -v c="$cpu" -v r="$rss" -v f="$floor_wall" -v fc="$floor_cpu" -v b="$size" 'BEGIN {
      printf "%-12s %8.3f %8.2f %9.1f %8.2f %8.2f %8.0f\n", n, w, c, r / 1024, (f > 0 ? w / f : 0), (fc > 0 ? c / fc : 0), (w > 0 ? b / 1e6 / w : 0) }'
  done < "$TMP/results"
  echo "tlscap connections reported: $tl_conns"
  if [ -s "$TMP/tshark.out" ]; then
    echo "tshark TLS connections (distinct tcp.stream with a ClientHello): $(cut -f3 "$TMP/tshark.out" | sort -u | wc -l)"
  fi
  if [ -s "$TMP/ndpiReader.out" ]; then
    echo "ndpiReader TLS line: $(grep -m1 -E '^\s*TLS\s' "$TMP/ndpiReader.out" | tr -s ' ' || true)"
  fi
  if [ -s "$TMP/ssldump.out" ]; then
    echo "ssldump ClientHellos: $(grep -c 'ClientHello' "$TMP/ssldump.out" || true)"
  fi
  echo
done
