#!/usr/bin/env bash
# make_ring.sh -- a rotated capture (ring buffer) for tlscap --continuous (samples/ring/).
#
# In a private network namespace (loopback only, MTU 1500, segmentation offloads off so
# segments are Ethernet-sized), openssl s_client fetches a 1.1 MB file from openssl s_server
# (TLS 1.2, SNI api.tlscap.test, leaf + intermediate) while `tcpdump -C 1` writes the capture in
# 1 MB pieces: ring.pcap and ring.pcap1. The connection starts in the first piece and
# ends in the last.
#
# Usage: sudo samples/ring/make_ring.sh
set -euo pipefail
S="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PKI=$S/../pki
NS=tlscap-ring
RUN=$(mktemp -d /tmp/tlscap-ring.XXXXXX)
TPID="" SPID=""
cleanup() {
  set +e
  [ -n "$TPID" ] && kill -INT "$TPID" 2>/dev/null
  [ -n "$SPID" ] && kill "$SPID" 2>/dev/null
  wait 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  rm -rf "$RUN"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo mtu 1500 up
ip netns exec "$NS" ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || true
mkdir -p "$RUN/www"
head -c 1100000 /dev/zero | tr '\0' 'x' > "$RUN/www/big.txt"
rm -f "$S"/ring.pcap*
(cd "$RUN/www" && exec ip netns exec "$NS" openssl s_server -WWW -accept 8450 -tls1_2 \
   -cert "$PKI/server.pem" -key "$PKI/server.key" -cert_chain "$PKI/intermediate.pem" \
   </dev/null >"$RUN/server.log" 2>&1) &
SPID=$!
ip netns exec "$NS" tcpdump -i lo --immediate-mode -U -s 0 -Z root -C 1 -w "$S/ring.pcap" \
   "tcp port 8450" 2>"$RUN/tcpdump.err" &
TPID=$!
for _ in $(seq 100); do grep -q 'listening on' "$RUN/tcpdump.err" && break; sleep 0.05; done
for _ in $(seq 100); do [ -n "$(ip netns exec "$NS" ss -Hltn 'sport = :8450')" ] && break; sleep 0.05; done
sleep 0.3
printf 'GET /big.txt HTTP/1.0\r\nHost: api.tlscap.test\r\n\r\n' | timeout 20 \
  ip netns exec "$NS" openssl s_client -connect 127.0.0.1:8450 -tls1_2 -servername api.tlscap.test \
  -CAfile "$PKI/root.pem" -verify_return_error -ign_eof >"$RUN/client.log" 2>&1 || true
sleep 0.5
kill -INT "$TPID"; wait "$TPID" || true; TPID=""
ls -l "$S"/ring.pcap*
