#!/bin/sh
# Peak RSS and wall time of a tlscap build on each hostile capture (JSON to /dev/null), one
# tab-separated line per case and run: label, case, capture bytes, peak KiB, wall, exit status.
#   benches/hostile/measure.sh BIN LABEL [DIR] [extra tlscap args...]
# DIR (default /work/hostile) holds the captures made by make_hostile.py; CASES narrows them.
# RUNS (default 1) repeats each case: a peak varies by 20-30 MiB from run to run.
BIN=$1; LABEL=$2; DIR=${3:-/work/hostile}; shift 3 2>/dev/null || shift $#
for c in ${CASES:-syn-flood half-open big-certs alerts}; do
  for _ in $(seq "${RUNS:-1}"); do
    t=$(mktemp)
    /usr/bin/time -v "$BIN" -q -o /dev/null --format json "$@" "$DIR/$c.pcap" 2>"$t" >/dev/null
    printf "%s\t%s\t%s\t%s\t%s\t%s\n" "$LABEL" "$c" "$(stat -c %s "$DIR/$c.pcap")" \
      "$(awk '/Maximum resident/ {print $6}' "$t")" \
      "$(awk '/Elapsed/ {print $8}' "$t")" "$(awk '/Exit status/ {print $3}' "$t")"
    rm -f "$t"
  done
done
