#!/usr/bin/env bash
# make_hmac_samples.sh -- HMAC-signed API calls for tlscap, made by a small python server that
# checks ServiceNow-style signatures and a python client that signs (samples/tools/hmacpeer.py).
#
# Like make_samples.sh: a private network namespace ("tlscap-hmac") whose loopback alone is
# used (127.0.0.1), tcpdump records each capture, every client and server is bounded with
# `timeout`. The TLS server certificate is the test PKI's (samples/pki, made by make_samples.sh).
#
# Outputs in samples/hmac/, five connections each (good 200, wrong-length 401, in-query 200,
# clock-skew 401, wrong-form 401; see hmacpeer.py):
#   hmac-plain.pcap           over plain HTTP (port 8470)
#   hmac-tls.pcap + .keys     over TLS 1.3, the client's key log beside it (port 8471)
# and three connections each (good 200; wrong-order 401: signed over body + timestamp, which no
# usual form matches; large 401: 80 KB signed the same way, more than tlscap keeps), TLS 1.3
# with the client's key log:
#   hmac-chunked.pcap + .keys bodies sent with Transfer-Encoding: chunked (port 8472)
#   hmac-h2.pcap + .keys      HTTP/2 (ALPN h2): a server on the `h2` library (hmach2.py,
#                             `pip install h2`), curl --http2 as the client (port 8473)
# TEST SECRET ONLY: tlscap --hmac-secret k1=tlscap-sample-hmac-secret recomputes them.
#
# Usage: sudo samples/make_hmac_samples.sh [NAME...]   (default: all four; e.g. hmac-h2)
set -euo pipefail

S="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT=$S/hmac
PKI=$S/pki
NS=tlscap-hmac
NX=(ip netns exec "$NS")
PY=${PYTHON:-python3}

if [ "$(id -u)" != 0 ]; then echo "make_hmac_samples.sh: must run as root (netns, tcpdump)" >&2; exit 1; fi
[ -f "$PKI/server-fullchain.pem" ] || { echo "run make_samples.sh first (test PKI)" >&2; exit 1; }
for t in tcpdump ethtool curl; do command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }; done

RUN=$(mktemp -d /tmp/tlscap-hmac.XXXXXX)
SPIDS=(); TPID=""
cleanup() {
  set +e
  [ -n "$TPID" ] && kill -INT "$TPID" 2>/dev/null
  for p in "${SPIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null; done
  ip netns del "$NS" 2>/dev/null
  rm -rf "$RUN"
}
trap cleanup EXIT

ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
"${NX[@]}" ip link set lo up mtu 1500
"${NX[@]}" ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || true
mkdir -p "$OUT"

capture() {  # capture NAME PORT
  rm -f "$OUT/$1.pcap" "$OUT/$1.keys"
  "${NX[@]}" tcpdump -i lo --immediate-mode -U -s 0 -w "$OUT/$1.pcap" "tcp port $2" 2>/dev/null &
  TPID=$!
  sleep 1
}
stop() {
  sleep 0.5
  kill -INT "$TPID"; wait "$TPID" 2>/dev/null || true; TPID=""
  for p in "${SPIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  wait 2>/dev/null || true
  SPIDS=()
}

WANT=("$@")
wanted() { [ ${#WANT[@]} -eq 0 ] || [[ " ${WANT[*]} " == *" $1 "* ]]; }

if wanted hmac-plain; then
  echo "== hmac-plain"
  capture hmac-plain 8470
  "${NX[@]}" timeout 30 "$PY" "$S/tools/hmacpeer.py" server 127.0.0.1 8470 &
  SPIDS+=($!); sleep 1
  "${NX[@]}" timeout 20 "$PY" "$S/tools/hmacpeer.py" client 127.0.0.1 8470
  stop
fi

if wanted hmac-tls; then
  echo "== hmac-tls"
  capture hmac-tls 8471
  "${NX[@]}" timeout 30 "$PY" "$S/tools/hmacpeer.py" server 127.0.0.1 8471 \
    "$PKI/server-fullchain.pem" "$PKI/server.key" &
  SPIDS+=($!); sleep 1
  "${NX[@]}" timeout 20 "$PY" "$S/tools/hmacpeer.py" client 127.0.0.1 8471 --tls "$OUT/hmac-tls.keys"
  stop
fi

if wanted hmac-chunked; then
  echo "== hmac-chunked"
  capture hmac-chunked 8472
  "${NX[@]}" timeout 30 "$PY" "$S/tools/hmacpeer.py" server 127.0.0.1 8472 \
    "$PKI/server-fullchain.pem" "$PKI/server.key" &
  SPIDS+=($!); sleep 1
  "${NX[@]}" timeout 20 "$PY" "$S/tools/hmacpeer.py" chunked 127.0.0.1 8472 "$OUT/hmac-chunked.keys"
  stop
fi

if wanted hmac-h2; then
  "$PY" -c 'import h2' 2>/dev/null || { echo "hmac-h2 needs the h2 python package (pip install h2)" >&2; exit 1; }
  echo "== hmac-h2"
  capture hmac-h2 8473
  "${NX[@]}" timeout 30 "$PY" "$S/tools/hmach2.py" server 127.0.0.1 8473 \
    "$PKI/server-fullchain.pem" "$PKI/server.key" &
  SPIDS+=($!); sleep 1
  "${NX[@]}" timeout 20 "$PY" "$S/tools/hmach2.py" client 127.0.0.1 8473 "$OUT/hmac-h2.keys"
  stop
fi
echo "done: $OUT"
