#!/usr/bin/env bash
# make_dtls_samples.sh -- DTLS sample captures for tlscap, made by OpenSSL's s_server/s_client
# (-dtls1_2) on loopback.
#
# Like make_samples.sh: a private network namespace ("tlscap-dtls") whose loopback alone is
# used (127.0.0.0/8, MTU 1500), tcpdump records each scenario, every client and server is
# bounded with `timeout`. Certificates are the test PKI's (samples/pki, made by make_samples.sh).
#
# Outputs in samples/dtls/:
#   dtls-mutual-auth.pcap  DTLS 1.2 with a cookie exchange (HelloVerifyRequest, s_server -listen),
#                          the server's chain fragmented over several datagrams, a client
#                          certificate requested and sent; the client sends a line and closes
#   dtls-untrusted.pcap    the server presents a chain from another root; the client verifies
#                          against samples/pki/root.pem and aborts with alert unknown_ca
#   dtls-unanswered.pcap   a good association to port 4443, then a client whose datagrams to port
#                          4444 are dropped by nftables: it repeats its ClientHello for ~6 s
#   dtls-role-conflict.pcap two s_client processes bound to ports 4451 and 4452 and pointed at
#                          each other (as two WebRTC peers that both took a=setup:active): each
#                          sends a ClientHello, the first to receive the other's aborts
#                          (ICMP port unreachable dropped so the first hello's loss is silent)
#   dtls-keylog.pcap       DTLS 1.2 (ECDHE-RSA-AES256-GCM-SHA384) with the client's key log
#                          (s_client -keylogfile: dtls-keylog.keys, CLIENT_RANDOM): the
#                          encrypted Finished messages, a line of application data and the
#                          client's close_notify alert decrypt
#
# Usage: sudo samples/make_dtls_samples.sh [SCENARIO]   (one scenario, e.g. dtls-keylog; default all)
set -euo pipefail

S="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT=$S/dtls
PKI=$S/pki
NS=tlscap-dtls
NX=(ip netns exec "$NS")

if [ "$(id -u)" != 0 ]; then echo "make_dtls_samples.sh: must run as root (netns, tcpdump)" >&2; exit 1; fi
[ -f "$PKI/server-fullchain.pem" ] || { echo "run make_samples.sh first (test PKI)" >&2; exit 1; }
for t in tcpdump nft openssl; do command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }; done

SPIDS=(); TPID=""
cleanup() {
  set +e
  [ -n "$TPID" ] && kill -INT "$TPID" 2>/dev/null
  for p in "${SPIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null; done
  ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT

ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
"${NX[@]}" ip link set lo up mtu 1500
mkdir -p "$OUT"
ONLY="${1:-}"
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }

capture() {  # capture NAME FILTER
  rm -f "$OUT/$1.pcap"
  "${NX[@]}" tcpdump -i lo --immediate-mode -U -s 0 -w "$OUT/$1.pcap" "$2" 2>/dev/null &
  TPID=$!
  sleep 1
}
stop() {
  sleep 0.5
  kill -INT "$TPID"; wait "$TPID" 2>/dev/null || true; TPID=""
  for p in "${SPIDS[@]:-}"; do [ -n "$p" ] && { kill "$p" 2>/dev/null || true; }; done
  wait 2>/dev/null || true
  SPIDS=()
}
server() {  # server PORT CERT KEY CHAIN [s_server args...]
  local port=$1 cert=$2 key=$3 chain=$4; shift 4
  # s_server stops at the end of its input: keep it open.
  sleep 30 | "${NX[@]}" timeout 30 openssl s_server -dtls1_2 -listen -accept "127.0.0.1:$port" \
    -cert "$cert" -key "$key" -cert_chain "$chain" "$@" >/dev/null 2>&1 &
  SPIDS+=($!)
  sleep 1
}
client() {  # client PORT SECONDS [s_client args...]: sends one line, then closes
  local port=$1 secs=$2; shift 2
  (echo "hello over dtls"; sleep 1) | "${NX[@]}" timeout "$secs" openssl s_client -dtls1_2 \
    -connect "127.0.0.1:$port" -servername api.tlscap.test "$@" >/dev/null 2>&1 || true
}

if want dtls-mutual-auth; then
echo "== dtls-mutual-auth"
capture dtls-mutual-auth "udp port 4441"
server 4441 "$PKI/server.pem" "$PKI/server.key" "$PKI/intermediate.pem" -Verify 1 -CAfile "$PKI/root.pem"
client 4441 5 -CAfile "$PKI/root.pem" -verify_return_error \
  -cert "$PKI/client.pem" -key "$PKI/client.key" -cert_chain "$PKI/intermediate.pem"
stop
fi

if want dtls-untrusted; then
echo "== dtls-untrusted"
capture dtls-untrusted "udp port 4442"
server 4442 "$PKI/other-server.pem" "$PKI/other-server.key" "$PKI/other-chain.pem"
client 4442 5 -CAfile "$PKI/root.pem" -verify_return_error
stop
fi

if want dtls-unanswered; then
echo "== dtls-unanswered"
"${NX[@]}" nft -f - <<'NFT'
table inet dtlsblock {
  chain input { type filter hook input priority 0; udp dport 4444 drop; }
}
NFT
capture dtls-unanswered "udp port 4443 or udp port 4444"
server 4443 "$PKI/server.pem" "$PKI/server.key" "$PKI/intermediate.pem"
client 4443 5 -CAfile "$PKI/root.pem"
client 4444 6 -CAfile "$PKI/root.pem"
stop
"${NX[@]}" nft delete table inet dtlsblock
fi

if want dtls-role-conflict; then
echo "== dtls-role-conflict"
"${NX[@]}" nft -f - <<'NFT'
table inet noicmp {
  chain output { type filter hook output priority 0; icmp type destination-unreachable drop; }
}
NFT
capture dtls-role-conflict "udp port 4451 or udp port 4452"
peer() {  # peer LOCAL REMOTE
  (sleep 3) | "${NX[@]}" timeout 4 openssl s_client -dtls1_2 -bind "127.0.0.1:$1" \
    -connect "127.0.0.1:$2" >/dev/null 2>&1 || true
}
peer 4451 4452 &
sleep 0.3
peer 4452 4451
wait
stop
"${NX[@]}" nft delete table inet noicmp
fi

if want dtls-keylog; then
echo "== dtls-keylog"
rm -f "$OUT/dtls-keylog.keys"
capture dtls-keylog "udp port 4461"
server 4461 "$PKI/server.pem" "$PKI/server.key" "$PKI/intermediate.pem" -cipher ECDHE-RSA-AES256-GCM-SHA384
client 4461 5 -CAfile "$PKI/root.pem" -verify_return_error -keylogfile "$OUT/dtls-keylog.keys"
stop
fi

ls -l "$OUT"
