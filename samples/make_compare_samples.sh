#!/usr/bin/env bash
# make_compare_samples.sh -- pairs of real captures for `tlscap compare GOOD BAD`: the same
# service reached by a client that works and by one that fails for one known reason.
#
# Like make_samples.sh (whose test PKI in samples/pki it reuses), everything runs inside a
# private network namespace ("tlscap-compare") on loopback with MTU 1500 and offloads off; no
# packet leaves it. Each side of a pair is its own capture, with the client's key log beside it.
#
# Outputs, in samples/compare/:
#   <pair>-good.pcap / <pair>-bad.pcap (+ .keys)   one connection each
#   <pair>.txt                                      what each side ran, and why the bad one fails
#
# Pairs:
#   sni           curl by host name vs. curl by IP (no SNI), nginx requests a client
#                 certificate only for the host name and answers 401 without one
#   version       curl vs. openssl s_client -tls1_1, nginx allows TLS 1.2 and 1.3 only
#   proxy         curl direct vs. curl through tinyproxy; nginx allows only 127.0.0.1, the
#                 proxy connects from 127.0.0.5 and gets 403
#   client-cert   curl with its client certificate vs. without, s_server requires one
#   pool          two members of a pool behind one name; one sends leaf + intermediate, the
#                 other its leaf only, and curl rejects that chain
#   client-usage  curl with its client certificate vs. curl presenting the server certificate
#                 (extendedKeyUsage serverAuth only); s_server rejects it (unsupported_certificate)
#   mtu           client -- router -- server in three namespaces; the router's link to the client
#                 has MTU 1280 and its ICMP "fragmentation needed" is dropped. good: the client's
#                 route announces MSS 1200 (advmss), 200. bad: MSS 1460, the server's full-size
#                 segments never arrive (MTU black hole)
#   pq            curl (OpenSSL 3.0: an x25519 key share, a one-segment ClientHello) vs. a
#                 pyOpenSSL client on the OpenSSL that the cryptography wheel bundles (3.5 or
#                 later: an X25519MLKEM768 key share, a ClientHello over two segments); an
#                 nftables rule in front of nginx, like a middlebox that inspects each segment,
#                 drops TCP segments that do not start with a TLS record header
#
# Usage: sudo samples/make_compare_samples.sh [PAIR...]   (default: every pair; needs root, and
#        samples/pki from make_samples.sh)
set -euo pipefail

S="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PKI=$S/pki
OUT=$S/compare
NS=tlscap-compare
NX=(ip netns exec "$NS")

if [ "$(id -u)" != 0 ]; then echo "make_compare_samples.sh: must run as root (netns, tcpdump)" >&2; exit 1; fi
[ -f "$PKI/server-fullchain.pem" ] || { echo "no test PKI: run samples/make_samples.sh first" >&2; exit 1; }
need=()
for pair in openssl:openssl curl:curl nginx:nginx tcpdump:tcpdump ip:iproute2 ethtool:ethtool \
            ss:iproute2 tinyproxy:tinyproxy; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Pairs to make: the arguments, or all.
want() { [ ${#PAIRS[@]} -eq 0 ] && return 0; local p; for p in "${PAIRS[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }
PAIRS=("$@")
PY=${PYTHON:-python3}
if want pq; then
  # A client whose OpenSSL offers a post-quantum key share (Debian's OpenSSL 3.0 has none).
  "$PY" -c 'import OpenSSL' 2>/dev/null || "$PY" -m pip install -q 'pyOpenSSL>=25'
  "$PY" - <<'PYCHECK'
from cryptography.hazmat.backends.openssl import backend
v = backend.openssl_version_number()
assert v >= 0x30500000, "the cryptography wheel's OpenSSL is older than 3.5: " + backend.openssl_version_text()
PYCHECK
fi
MNS=(tlscap-cmp-c tlscap-cmp-r tlscap-cmp-s)

RUN=$(mktemp -d /tmp/tlscap-compare.XXXXXX)
mkdir -p "$OUT" "$RUN/www" "$RUN/nginx-tmp"
PIDS=() SPIDS=() TPID=""
cleanup() {
  set +e
  [ -n "$TPID" ] && kill -INT "$TPID" 2>/dev/null
  for p in "${SPIDS[@]:-}" "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  # anything still running in our private namespace was started by this script
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null; done
  ip netns del "$NS" 2>/dev/null
  for ns in "${MNS[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$RUN" "/etc/netns/$NS"
}
trap cleanup EXIT

ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
"${NX[@]}" ip link set lo up mtu 1500
"${NX[@]}" ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || echo "warning: could not disable offloads on lo"
# The proxy resolves the CONNECT target itself: `ip netns exec` mounts this file over /etc/hosts.
mkdir -p "/etc/netns/$NS"
echo "127.0.0.1 api.tlscap.test" > "/etc/netns/$NS/hosts"
printf 'hello from openssl s_server\n' > "$RUN/www/hello.txt"

R=$PKI/root.pem
# ---------------------------------------------------------------- nginx
cat > "$RUN/nginx.conf" <<EOF
user root;
worker_processes 1;
daemon off;
pid $RUN/nginx.pid;
error_log $RUN/nginx.err warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $RUN/nginx-tmp;
  ssl_certificate     $PKI/server-fullchain.pem;
  ssl_certificate_key $PKI/server.key;
  default_type text/plain;

  # sni (8461): client certificate requested by the api.tlscap.test server only
  server {
    listen 127.0.0.1:8461 ssl default_server;
    server_name _;
    ssl_protocols TLSv1.2;
    location / { return 401 "client certificate required\n"; }
  }
  server {
    listen 127.0.0.1:8461 ssl;
    server_name api.tlscap.test;
    ssl_protocols TLSv1.2;
    ssl_verify_client optional;
    ssl_client_certificate $PKI/ca-bundle.pem;
    ssl_verify_depth 2;
    location / {
      if (\$ssl_client_verify != SUCCESS) { return 401 "client certificate required\n"; }
      return 200 "hello\n";
    }
  }

  # version (8462): TLS 1.2 and 1.3 only
  server {
    listen 127.0.0.1:8462 ssl;
    server_name api.tlscap.test;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { return 200 "hello\n"; }
  }

  # proxy (8463): only clients from 127.0.0.1 are served
  server {
    listen 127.0.0.1:8463 ssl;
    server_name api.tlscap.test;
    ssl_protocols TLSv1.3;
    location / {
      if (\$remote_addr != 127.0.0.1) { return 403 "forbidden\n"; }
      return 200 "hello\n";
    }
  }

  # pq (8468): TLS 1.3; an nftables rule drops segments that do not start a TLS record
  server {
    listen 127.0.0.1:8468 ssl;
    server_name api.tlscap.test;
    ssl_protocols TLSv1.3;
    location / { return 200 "hello\n"; }
  }

  # pool (8465): member 127.0.0.2 sends leaf + intermediate, member 127.0.0.3 its leaf only
  server {
    listen 127.0.0.2:8465 ssl;
    server_name api.tlscap.test;
    ssl_protocols TLSv1.2;
    location / { return 200 "hello from member 2\n"; }
  }
  server {
    listen 127.0.0.3:8465 ssl;
    server_name api.tlscap.test;
    ssl_protocols TLSv1.2;
    ssl_certificate $PKI/server.pem;
    location / { return 200 "hello from member 3\n"; }
  }
}
EOF
"${NX[@]}" nginx -c "$RUN/nginx.conf" -e "$RUN/nginx.err" > "$RUN/nginx.out" 2>&1 &
PIDS+=($!)

# ---------------------------------------------------------------- helpers
CUR="" NOTES=""
listening() {
  for _ in $(seq 100); do
    [ -n "$("${NX[@]}" ss -Hltn "sport = :$1")" ] && return 0; sleep 0.05
  done
  echo "nothing listens on port $1" >&2; return 1
}
note() { printf '%s\n' "$*" >> "$NOTES"; }
pair() {        # pair NAME DESCRIPTION: starts the pair's notes
  NOTES=$OUT/$1.txt
  echo "== $1"
  printf 'pair: %s\n' "$2" > "$NOTES"
}
begin() {       # begin SIDE-NAME FILTER: tcpdump for one side
  CUR=$1
  rm -f "$OUT/$CUR.pcap" "$OUT/$CUR.keys"
  : > "$RUN/tcpdump.err"
  "${NX[@]}" tcpdump -i lo --immediate-mode -U -s 0 -Z root -w "$OUT/$CUR.pcap" "$2" 2> "$RUN/tcpdump.err" &
  TPID=$!
  for _ in $(seq 100); do grep -q 'listening on' "$RUN/tcpdump.err" && break; sleep 0.05; done
  sleep 0.2
}
finish() {
  sleep 0.5
  kill -INT "$TPID"; wait "$TPID" || true; TPID=""
  for p in "${SPIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${SPIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  SPIDS=()
  if [ -f "$OUT/$CUR.keys" ] && ! grep -qv '^#' "$OUT/$CUR.keys"; then rm -f "$OUT/$CUR.keys"; fi
}
run() {         # run SECONDS CMD...: a client, its command line noted (paths shortened)
  local t=$1; shift
  local line="$*"; line=${line//$S\//samples/}; line=${line//$RUN/\$RUN}
  note "$CUR: $line"
  timeout "$t" "${NX[@]}" "$@" < /dev/null >> "$RUN/$CUR.client.log" 2>&1 || true
}
CURL() { run 15 env SSLKEYLOGFILE="$OUT/$CUR.keys" curl -sS -o /dev/null -w '%{http_code}\n' "$@"; }
CERT=(--cert "$PKI/client.pem" --key "$PKI/client.key")

# ---------------------------------------------------------------- pairs
if want sni; then
pair sni "one nginx port, TLS 1.2: the api.tlscap.test server requests a client certificate, the default server does not. good: curl by host name with its client certificate, 200. bad: the same curl by IP (no SNI), no CertificateRequest, 401."
listening 8461
begin sni-good "tcp port 8461"
CURL --cacert "$R" "${CERT[@]}" --resolve api.tlscap.test:8461:127.0.0.1 https://api.tlscap.test:8461/
finish
begin sni-bad "tcp port 8461"
CURL -k "${CERT[@]}" https://127.0.0.1:8461/
finish
fi

if want version; then
pair version "nginx allows TLS 1.2 and 1.3. good: curl (offers TLS 1.3 and 1.2), 200. bad: openssl s_client -tls1_1, nginx answers with alert protocol_version."
listening 8462
begin version-good "tcp port 8462"
CURL --cacert "$R" --resolve api.tlscap.test:8462:127.0.0.1 https://api.tlscap.test:8462/
finish
begin version-bad "tcp port 8462"
# SECLEVEL=0: OpenSSL 3 refuses TLS 1.1 on its own side otherwise.
run 10 openssl s_client -connect 127.0.0.1:8462 -servername api.tlscap.test -tls1_1 \
  -cipher 'DEFAULT:@SECLEVEL=0' -keylogfile "$OUT/$CUR.keys"
finish
fi

if want proxy; then
pair proxy "nginx (TLS 1.3) serves only clients from 127.0.0.1. good: curl direct, 200. bad: curl through tinyproxy, which connects from 127.0.0.5; nginx answers 403. Captured on the client's side (client to proxy)."
mkdir -p "$RUN/tinyproxy"
cat > "$RUN/tinyproxy/tinyproxy.conf" <<EOF
User nobody
Group nogroup
Port 8464
Listen 127.0.0.1
Bind 127.0.0.5
Timeout 15
MaxClients 8
Allow 127.0.0.1
ConnectPort 8463
LogLevel Info
EOF
listening 8463
begin proxy-good "tcp port 8463"
CURL --cacert "$R" --resolve api.tlscap.test:8463:127.0.0.1 https://api.tlscap.test:8463/
finish
begin proxy-bad "tcp port 8464"
(exec "${NX[@]}" tinyproxy -d -c "$RUN/tinyproxy/tinyproxy.conf" < /dev/null >> "$RUN/tinyproxy.log" 2>&1) &
SPIDS+=($!)
listening 8464
CURL --cacert "$R" --proxy http://127.0.0.1:8464 --resolve api.tlscap.test:8463:127.0.0.1 https://api.tlscap.test:8463/
finish
fi

if want client-cert; then
pair client-cert "openssl s_server (TLS 1.2) requires a client certificate (-Verify 1). good: curl with its certificate. bad: curl without one; the server aborts with a fatal alert."
(cd "$RUN/www" && exec "${NX[@]}" openssl s_server -WWW -cert "$PKI/server.pem" -key "$PKI/server.key" \
   -cert_chain "$PKI/intermediate.pem" -accept 8466 -tls1_2 -Verify 1 -CAfile "$PKI/ca-bundle.pem" \
   < /dev/null >> "$RUN/s_server.log" 2>&1) &
SPIDS+=($!)
listening 8466
SRV=("${SPIDS[@]}")
begin client-cert-good "tcp port 8466"
SPIDS=()
CURL --cacert "$R" "${CERT[@]}" --resolve api.tlscap.test:8466:127.0.0.1 https://api.tlscap.test:8466/hello.txt
finish
begin client-cert-bad "tcp port 8466"
SPIDS=("${SRV[@]}")
CURL --cacert "$R" --resolve api.tlscap.test:8466:127.0.0.1 https://api.tlscap.test:8466/hello.txt
finish
fi

if want pool; then
pair pool "two nginx pool members behind api.tlscap.test:8465 (TLS 1.2). good: curl reaches 127.0.0.2, which sends leaf + intermediate, 200. bad: curl reaches 127.0.0.3, which sends its leaf only; curl cannot build the chain and sends alert unknown_ca."
listening 8465
begin pool-good "tcp port 8465"
CURL --cacert "$R" --resolve api.tlscap.test:8465:127.0.0.2 https://api.tlscap.test:8465/
finish
begin pool-bad "tcp port 8465"
CURL --cacert "$R" --resolve api.tlscap.test:8465:127.0.0.3 https://api.tlscap.test:8465/
finish
fi

if want client-usage; then
pair client-usage "openssl s_server (TLS 1.2) requires a client certificate (-Verify 1, -verify_return_error). good: curl with its client certificate (extendedKeyUsage clientAuth), 200. bad: curl presenting the server certificate (extendedKeyUsage serverAuth only); the server aborts with alert unsupported_certificate."
(cd "$RUN/www" && exec "${NX[@]}" openssl s_server -WWW -cert "$PKI/server.pem" -key "$PKI/server.key" \
   -cert_chain "$PKI/intermediate.pem" -accept 8467 -tls1_2 -Verify 1 -verify_return_error \
   -CAfile "$PKI/ca-bundle.pem" < /dev/null >> "$RUN/s_server.log" 2>&1) &
SPIDS+=($!)
listening 8467
SRV=("${SPIDS[@]}")
begin client-usage-good "tcp port 8467"
SPIDS=()
CURL --cacert "$R" "${CERT[@]}" --resolve api.tlscap.test:8467:127.0.0.1 https://api.tlscap.test:8467/hello.txt
finish
begin client-usage-bad "tcp port 8467"
SPIDS=("${SRV[@]}")
CURL --cacert "$R" --cert "$PKI/server-fullchain.pem" --key "$PKI/server.key" \
  --resolve api.tlscap.test:8467:127.0.0.1 https://api.tlscap.test:8467/hello.txt
finish
fi

if want pq; then
pair pq "nginx (TLS 1.3) behind an nftables rule that drops client segments not starting with a TLS record header (a middlebox that inspects each segment alone). good: curl (OpenSSL 3.0, key share x25519, ClientHello in one segment), 200. bad: samples/tools/pq_client.py (pyOpenSSL on OpenSSL $("$PY" -c 'from cryptography.hazmat.backends.openssl import backend as b; print(b.openssl_version_text().split()[1])'), key shares X25519MLKEM768 + x25519): its ClientHello's second segment is dropped, nginx never answers."
"${NX[@]}" nft -f - <<'NFT'
table inet tlscap_dpi {
  chain in {
    type filter hook input priority 0; policy accept;
    tcp dport 8468 @ih,0,8 != 0x14-0x17 drop
    tcp dport 8468 @ih,8,8 != 0x03 drop
  }
}
NFT
listening 8468
begin pq-good "tcp port 8468"
CURL --cacert "$R" --resolve api.tlscap.test:8468:127.0.0.1 https://api.tlscap.test:8468/
finish
begin pq-bad "tcp port 8468"
run 15 "$PY" "$S/tools/pq_client.py" 127.0.0.1 8468 api.tlscap.test "$R" "$OUT/$CUR.keys"
finish
"${NX[@]}" nft delete table inet tlscap_dpi
fi

if want mtu; then
pair mtu "client (10.82.0.2) -- router -- server (10.82.1.2, openssl s_server -www, TLS 1.3, leaf + intermediate); the router's link to the client has MTU 1280 and its ICMP fragmentation-needed is dropped. good: the client's route announces MSS 1200 (ip route ... advmss 1200), curl gets 200. bad: the default MSS 1460; the server's full-size segments never arrive and curl times out. Captured on the client's interface."
C=${MNS[0]} MR=${MNS[1]} V=${MNS[2]}
for ns in "${MNS[@]}"; do ip netns del "$ns" 2>/dev/null || true; ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add c0 netns "$C" type veth peer name r0 netns "$MR"
ip link add s0 netns "$V" type veth peer name r1 netns "$MR"
ip -n "$C" addr add 10.82.0.2/24 dev c0
ip -n "$MR" addr add 10.82.0.1/24 dev r0
ip -n "$MR" addr add 10.82.1.1/24 dev r1
ip -n "$V" addr add 10.82.1.2/24 dev s0
ip -n "$C" link set c0 mtu 1500 up
ip -n "$MR" link set r0 mtu 1280 up
ip -n "$MR" link set r1 mtu 1500 up
ip -n "$V" link set s0 mtu 1500 up
ip -n "$V" route add default via 10.82.1.1
ip netns exec "$MR" sysctl -qw net.ipv4.ip_forward=1
for dev in "$C c0" "$MR r0" "$MR r1" "$V s0"; do
  set -- $dev
  ip netns exec "$1" ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1 || true
done
ip netns exec "$MR" nft -f - <<'NFT'
table inet blackhole {
  chain out {
    type filter hook output priority 0; policy accept;
    icmp type destination-unreachable icmp code frag-needed drop
  }
}
NFT
(exec ip netns exec "$V" openssl s_server -quiet -accept 8469 -www -tls1_3 \
   -cert "$PKI/server.pem" -cert_chain "$PKI/intermediate.pem" -key "$PKI/server.key" \
   < /dev/null > /dev/null 2>&1) &
SPIDS+=($!)
for _ in $(seq 100); do [ -n "$(ip netns exec "$V" ss -Hltn "sport = :8469")" ] && break; sleep 0.05; done
SRV=("${SPIDS[@]}")
mtu_side() {    # mtu_side SIDE-NAME ROUTE-OPTIONS...: one curl from the client namespace
  CUR=$1; shift
  ip -n "$C" route replace default via 10.82.0.1 "$@"
  rm -f "$OUT/$CUR.pcap" "$OUT/$CUR.keys"
  : > "$RUN/tcpdump.err"
  ip netns exec "$C" tcpdump -i c0 --immediate-mode -U -s 0 -Z root -w "$OUT/$CUR.pcap" "tcp port 8469" 2> "$RUN/tcpdump.err" &
  TPID=$!
  for _ in $(seq 100); do grep -q 'listening on' "$RUN/tcpdump.err" && break; sleep 0.05; done
  sleep 0.2
  note "$CUR: ip route replace default via 10.82.0.1 $*"
  local line="curl -sS -o /dev/null -w '%{http_code}\n' --max-time 12 --cacert samples/pki/root.pem --resolve api.tlscap.test:8469:10.82.1.2 https://api.tlscap.test:8469/"
  note "$CUR: $line"
  timeout 15 ip netns exec "$C" env SSLKEYLOGFILE="$OUT/$CUR.keys" curl -sS -o /dev/null -w '%{http_code}\n' \
    --max-time 12 --cacert "$R" --resolve api.tlscap.test:8469:10.82.1.2 https://api.tlscap.test:8469/ \
    < /dev/null >> "$RUN/$CUR.client.log" 2>&1 || true
  SPIDS=()
  [ "$CUR" = mtu-bad ] && SPIDS=("${SRV[@]}")
  finish
}
mtu_side mtu-good advmss 1200
mtu_side mtu-bad
fi

ls -l "$OUT"
