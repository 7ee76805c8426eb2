#!/usr/bin/env bash
# make_mtu_samples.sh -- an MTU black hole for tlscap: a TLS handshake whose full-size segments
# never arrive while small ones do.
#
# Three private network namespaces joined by veth pairs, no packet leaves them:
#   tlscap-mtu-c (client, 10.81.0.2, MTU 1500) -- tlscap-mtu-r (router) -- tlscap-mtu-s (server,
#   10.81.1.2, MTU 1500). The router's link towards the client has MTU 1280 and an nftables
#   rule drops the ICMP "fragmentation needed" it would send back, so the server never learns
#   the path MTU: its 1448-byte segments (the certificate flight) are dropped at the router and
#   retransmitted until curl gives up; small segments pass. Offloads are off, so captures show
#   wire-sized segments.
#
# Outputs in samples/mtu/ (one connection each, the same handshake seen from both ends):
#   mtu-black-hole-client.pcap   tcpdump on the client's interface
#   mtu-black-hole-server.pcap   tcpdump on the server's interface
#   mtu-pmtud-server.pcap        the same path with the router's ICMP let through (its drop rule
#                                removed): the server's interface sees "fragmentation needed"
#                                (next-hop MTU 1280), resends smaller and the handshake completes
#                                (path MTU discovery working: the healthy look-alike)
#
# Usage: sudo samples/make_mtu_samples.sh [black-hole|pmtud]   (no argument: both)
set -euo pipefail

S="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT=$S/mtu
PKI=$S/pki
C=tlscap-mtu-c; R=tlscap-mtu-r; V=tlscap-mtu-s
WANT=${1:-all}

if [ "$(id -u)" != 0 ]; then echo "make_mtu_samples.sh: must run as root (netns, tcpdump)" >&2; exit 1; fi
[ -f "$PKI/server-fullchain.pem" ] || { echo "run make_samples.sh first (test PKI)" >&2; exit 1; }
for t in tcpdump nft openssl curl ethtool; do command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }; done

RUN=$(mktemp -d /tmp/tlscap-mtu.XXXXXX)
PIDS=()
cleanup() {
  set +e
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -INT "$p" 2>/dev/null; done
  wait 2>/dev/null
  for ns in $C $R $V; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$RUN"
}
trap cleanup EXIT

for ns in $C $R $V; do ip netns del "$ns" 2>/dev/null || true; ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add c0 netns $C type veth peer name r0 netns $R
ip link add s0 netns $V type veth peer name r1 netns $R
ip -n $C addr add 10.81.0.2/24 dev c0
ip -n $R addr add 10.81.0.1/24 dev r0
ip -n $R addr add 10.81.1.1/24 dev r1
ip -n $V addr add 10.81.1.2/24 dev s0
ip -n $C link set c0 mtu 1500 up
ip -n $R link set r0 mtu 1280 up
ip -n $R link set r1 mtu 1500 up
ip -n $V link set s0 mtu 1500 up
ip -n $C route add default via 10.81.0.1
ip -n $V route add default via 10.81.1.1
ip netns exec $R sysctl -qw net.ipv4.ip_forward=1
for pair in "$C c0" "$R r0" "$R r1" "$V s0"; do
  set -- $pair
  ip netns exec "$1" ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1 || true
done
# The black hole: the router's "fragmentation needed" never leaves it.
ip netns exec $R nft -f - <<'NFT'
table inet blackhole {
  chain out {
    type filter hook output priority 0; policy accept;
    icmp type destination-unreachable icmp code frag-needed drop
  }
}
NFT
mkdir -p "$OUT"

if [ "$WANT" = all ] || [ "$WANT" = black-hole ]; then
rm -f "$OUT"/mtu-black-hole-*.pcap

ip netns exec $V timeout 40 openssl s_server -quiet -accept 8480 -www \
  -cert "$PKI/server-fullchain.pem" -key "$PKI/server.key" </dev/null >/dev/null 2>&1 &
PIDS+=($!)
ip netns exec $C tcpdump -i c0 --immediate-mode -U -s 0 -w "$OUT/mtu-black-hole-client.pcap" "tcp port 8480" 2>/dev/null &
PIDS+=($!)
ip netns exec $V tcpdump -i s0 --immediate-mode -U -s 0 -w "$OUT/mtu-black-hole-server.pcap" "tcp port 8480" 2>/dev/null &
PIDS+=($!)
sleep 1.5
echo "== curl (expected to time out)"
ip netns exec $C curl -sS --max-time 12 --cacert "$PKI/root.pem" \
  --resolve api.tlscap.test:8480:10.81.1.2 https://api.tlscap.test:8480/ -o /dev/null || true
sleep 1
for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -INT "$p" 2>/dev/null; done
wait 2>/dev/null || true
PIDS=()
fi

if [ "$WANT" = all ] || [ "$WANT" = pmtud ]; then
rm -f "$OUT/mtu-pmtud-server.pcap"
ip netns exec $R nft delete table inet blackhole
# The server must learn the path MTU from this run's ICMP, not from an earlier one.
ip -n $V route flush cache 2>/dev/null || true
ip netns exec $V timeout 40 openssl s_server -quiet -accept 8481 -www \
  -cert "$PKI/server.pem" -cert_chain "$PKI/intermediate.pem" -key "$PKI/server.key" </dev/null >/dev/null 2>&1 &
PIDS+=($!)
ip netns exec $V tcpdump -i s0 --immediate-mode -U -s 0 -w "$OUT/mtu-pmtud-server.pcap" "tcp port 8481 or icmp" 2>/dev/null &
PIDS+=($!)
sleep 1.5
echo "== curl (expected to succeed after path MTU discovery)"
ip netns exec $C curl -sS --max-time 12 --cacert "$PKI/root.pem" \
  --resolve api.tlscap.test:8481:10.81.1.2 https://api.tlscap.test:8481/ -o /dev/null -w '%{http_code}\n' || true
sleep 1
fi
echo "done: $OUT"
