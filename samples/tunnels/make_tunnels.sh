#!/usr/bin/env bash
# make_tunnels.sh -- tunnelled TLS captures for tlscap (samples/tunnels/).
#
# 1. vxlan-kernel.pcap: a REAL kernel VXLAN tunnel (VNI 42, UDP 4789) between two private
#    network namespaces joined by a veth pair; openssl s_client -> s_server (TLS 1.2, SNI
#    api.tlscap.test, leaf + intermediate) through the tunnel, captured on the veth underlay.
#    The VXLAN device keeps MTU 1500 over a 1500-byte underlay, as misconfigured tunnels do, so
#    the server's full-sized segments leave as two outer IP fragments (the capture filter
#    keeps non-first fragments, which have no UDP header). Nothing leaves the two namespaces.
# 2. Every other carrier: this machine's kernel has no GRE/GENEVE/ERSPAN/IPIP/MPLS/VLAN
#    devices, so wrap.py WRAPS THE REAL PACKETS of ../tls12-openssl-sni.pcap OFFLINE (scapy)
#    in each carrier's headers: the inner IP packets are byte-for-byte the captured ones, the
#    outer headers are built by scapy with documentation addresses (192.0.2.0/24, 2001:db8::/32).
# 3. vxlan-two-vnis.pcap: wrap_two_vnis.py WRAPS THE SAME REAL PACKETS OFFLINE in VXLAN twice
#    (VNI 100, and VNI 200 half a millisecond later, interleaved, same VTEPs): one inner
#    5-tuple in two tenants' overlays, which must stay two connections.
#
# Usage: sudo samples/tunnels/make_tunnels.sh     (needs root for namespaces and tcpdump)
set -euo pipefail
S="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PKI=$S/../pki
A=tlscap-tun-a B=tlscap-tun-b
PY=/usr/bin/python3
command -v tcpdump >/dev/null && command -v openssl >/dev/null && "$PY" -c 'import scapy' 2>/dev/null || {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq tcpdump openssl iproute2 python3-scapy >/dev/null
}
RUN=$(mktemp -d /tmp/tlscap-tunnels.XXXXXX)
TPID="" SPID=""
cleanup() {
  set +e
  [ -n "$TPID" ] && kill -INT "$TPID" 2>/dev/null
  [ -n "$SPID" ] && kill "$SPID" 2>/dev/null
  wait 2>/dev/null
  ip netns del "$A" 2>/dev/null; ip netns del "$B" 2>/dev/null
  rm -rf "$RUN"
}
trap cleanup EXIT

# ---- 1. kernel VXLAN: underlay 10.99.0.1 <-> 10.99.0.2 (veth), overlay 10.42.0.1 <-> 10.42.0.2
ip netns add "$A"; ip netns add "$B"
ip link add va netns "$A" type veth peer name vb netns "$B"
ip -n "$A" addr add 10.99.0.1/24 dev va; ip -n "$B" addr add 10.99.0.2/24 dev vb
ip -n "$A" link set va up; ip -n "$B" link set vb up
ip -n "$A" link set lo up; ip -n "$B" link set lo up
ip -n "$A" link add vx42 type vxlan id 42 dstport 4789 local 10.99.0.1 remote 10.99.0.2
ip -n "$B" link add vx42 type vxlan id 42 dstport 4789 local 10.99.0.2 remote 10.99.0.1
ip -n "$A" addr add 10.42.0.1/24 dev vx42; ip -n "$B" addr add 10.42.0.2/24 dev vx42
ip -n "$A" link set vx42 up; ip -n "$B" link set vx42 up
mkdir -p "$RUN/www"; printf 'hello through vxlan\n' > "$RUN/www/hello.txt"
(cd "$RUN/www" && exec ip netns exec "$B" openssl s_server -WWW -accept 8443 -tls1_2 \
   -cert "$PKI/server.pem" -key "$PKI/server.key" -cert_chain "$PKI/intermediate.pem" \
   </dev/null >"$RUN/server.log" 2>&1) &
SPID=$!
ip netns exec "$A" tcpdump -i va --immediate-mode -U -s 0 -w "$S/vxlan-kernel.pcap" \
   "udp port 4789 or (ip[6:2] & 0x1fff != 0)" 2>"$RUN/tcpdump.err" &
TPID=$!
for _ in $(seq 100); do grep -q 'listening on' "$RUN/tcpdump.err" && break; sleep 0.05; done
for _ in $(seq 100); do [ -n "$(ip netns exec "$B" ss -Hltn 'sport = :8443')" ] && break; sleep 0.05; done
sleep 0.3
printf 'GET /hello.txt HTTP/1.0\r\nHost: api.tlscap.test\r\n\r\n' | timeout 10 \
  ip netns exec "$A" openssl s_client -connect 10.42.0.2:8443 -tls1_2 -servername api.tlscap.test \
  -CAfile "$PKI/root.pem" -verify_return_error -ign_eof >"$RUN/client.log" 2>&1 || true
sleep 0.5
kill -INT "$TPID"; wait "$TPID" || true; TPID=""

# ---- 2. offline wrapping of a real sample
"$PY" "$S/wrap.py" "$S/../tls12-openssl-sni.pcap" "$S"
"$PY" "$S/wrap_two_vnis.py" "$S/../tls12-openssl-sni.pcap" "$S/vxlan-two-vnis.pcap"
ls -l "$S"/*.pcap
