#!/usr/bin/env bash
# make_quic_samples.sh -- QUIC sample captures for tlscap, made by aioquic (PyPI) on loopback.
#
# Like make_samples.sh: a private network namespace ("tlscap-quic") whose loopback alone is
# used (127.0.0.0/8), tcpdump records each scenario, every client and server is bounded with
# `timeout`. The server certificate is the test PKI's (samples/pki, made by make_samples.sh).
#
# Outputs in samples/quic/:
#   quic-retry-keylog.pcap + .keys  handshake after a Retry, client key log (certificates)
#   quic-alpn-mismatch.pcap        client offers h3, server only hq-interop: the server closes
#                                   with CRYPTO_ERROR 0x0178 (TLS alert no_application_protocol)
#   quic-blocked.pcap               UDP dropped by nftables: the client repeats its Initial; then
#                                   a TCP connection to the same address (fallback), and a second
#                                   blocked attempt to 127.0.0.2 with no fallback
#   icmp-unreachable.pcap           answers by ICMP: a QUIC client to a UDP port nothing listens
#                                   on (the kernel's port-unreachable), one to a port an nftables
#                                   rule rejects with admin-prohibited, and a TCP client (curl)
#                                   whose SYN an nftables rule rejects with host-unreachable
#   quic-version-negotiation.pcap   a server that speaks v1 only (UDP 4438) answers Version
#                                   Negotiation to: a client starting with a reserved (GREASE)
#                                   version, which starts over with v1 and succeeds; a client
#                                   that speaks v2 only, which finds no version in common and
#                                   gives up; a client that speaks the GREASE version only (a
#                                   probe of version negotiation)
#
# Usage: sudo samples/make_quic_samples.sh [NAME...]   (no NAME: every capture)
set -euo pipefail

S="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT=$S/quic
PKI=$S/pki
NS=tlscap-quic
NX=(ip netns exec "$NS")
PY=${PYTHON:-python3}

if [ "$(id -u)" != 0 ]; then echo "make_quic_samples.sh: must run as root (netns, tcpdump)" >&2; exit 1; fi
[ -f "$PKI/server-fullchain.pem" ] || { echo "run make_samples.sh first (test PKI)" >&2; exit 1; }
"$PY" -c 'import aioquic' 2>/dev/null || "$PY" -m pip install -q 'aioquic==1.7.2'
for t in tcpdump nft openssl; do command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }; done

RUN=$(mktemp -d /tmp/tlscap-quic.XXXXXX)
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
mkdir -p "$OUT"

capture() {  # capture NAME FILTER
  rm -f "$OUT/$1.pcap" "$OUT/$1.keys"
  "${NX[@]}" tcpdump -i lo --immediate-mode -U -s 0 -w "$OUT/$1.pcap" "$2" 2>/dev/null &
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
server() {  # server PORT ALPN [--retry | --versions V,...]
  "${NX[@]}" timeout 60 "$PY" "$S/tools/quicpeer.py" server 127.0.0.1 "$1" \
    "$PKI/server-fullchain.pem" "$PKI/server.key" "$2" "${@:3}" &
  SPIDS+=($!)
  sleep 1.5
}
client() {  # client HOST PORT ALPN KEYLOG TIMEOUT [--versions V,...]
  "${NX[@]}" timeout 20 "$PY" "$S/tools/quicpeer.py" client "$1" "$2" api.tlscap.test "$3" "$4" \
    --timeout "$5" "${@:6}" || true
}

ONLY=("$@")
want() { [ ${#ONLY[@]} -eq 0 ] && return 0; local n; for n in "${ONLY[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }

if want quic-retry-keylog; then
echo "== quic-retry-keylog"
capture quic-retry-keylog "udp port 4431"
server 4431 hq-interop --retry
client 127.0.0.1 4431 hq-interop "$OUT/quic-retry-keylog.keys" 5
stop
fi

if want quic-alpn-mismatch; then
echo "== quic-alpn-mismatch"
capture quic-alpn-mismatch "udp port 4432"
server 4432 hq-interop
client 127.0.0.1 4432 h3 "$OUT/quic-alpn-mismatch.keys" 5
stop
fi

if want quic-blocked; then
echo "== quic-blocked"
"${NX[@]}" nft -f - <<'NFT'
table inet quicblock {
  chain input { type filter hook input priority 0; udp dport { 4433, 4434 } drop; }
}
NFT
capture quic-blocked "udp port 4433 or udp port 4434 or tcp port 4433"
client 127.0.0.1 4433 h3 "$RUN/blocked.keys" 3
# the fallback: TLS over TCP to the same address
"${NX[@]}" timeout 10 openssl s_server -quiet -accept 127.0.0.1:4433 \
  -cert "$PKI/server-fullchain.pem" -key "$PKI/server.key" >/dev/null 2>&1 &
SPIDS+=($!)
sleep 1
echo | "${NX[@]}" timeout 5 openssl s_client -connect 127.0.0.1:4433 -servername api.tlscap.test \
  >/dev/null 2>&1 || true
client 127.0.0.2 4434 h3 "$RUN/blocked.keys" 3
stop
"${NX[@]}" nft delete table inet quicblock
fi

if want icmp-unreachable; then
echo "== icmp-unreachable"
# Nothing listens on UDP 4435: the kernel answers each Initial with ICMP port-unreachable.
# UDP 4436 and TCP 4437 are rejected by nftables with the ICMP types named here.
"${NX[@]}" nft -f - <<'NFT'
table inet icmpreject {
  chain input {
    type filter hook input priority 0;
    udp dport 4436 reject with icmp type admin-prohibited;
    tcp dport 4437 reject with icmp type host-unreachable;
  }
}
NFT
capture icmp-unreachable "udp port 4435 or udp port 4436 or tcp port 4437 or icmp"
client 127.0.0.1 4435 h3 "$RUN/unreachable.keys" 2
client 127.0.0.1 4436 h3 "$RUN/unreachable.keys" 2
"${NX[@]}" timeout 10 curl -sS -o /dev/null --connect-timeout 3 --resolve api.tlscap.test:4437:127.0.0.1 \
  https://api.tlscap.test:4437/ 2>&1 | sed 's/^/   curl: /' || true
stop
"${NX[@]}" nft delete table inet icmpreject
fi

if want quic-version-negotiation; then
echo "== quic-version-negotiation"
capture quic-version-negotiation "udp port 4438"
server 4438 hq-interop --versions 1
client 127.0.0.1 4438 hq-interop "$RUN/vn.keys" 3 --versions 1a2a3a4a,1
client 127.0.0.1 4438 hq-interop "$RUN/vn.keys" 3 --versions 6b3343cf
# the capture goes on: a client that did not start over has given up
sleep 1.5
client 127.0.0.1 4438 hq-interop "$RUN/vn.keys" 3 --versions 1a2a3a4a
sleep 1.5
stop
fi

# a client that never got handshake secrets leaves an empty key log
find "$OUT" -name "*.keys" -empty -delete
ls -l "$OUT"
