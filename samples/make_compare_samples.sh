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
#
# Usage: sudo samples/make_compare_samples.sh    (needs root, and samples/pki from make_samples.sh)
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
pair sni "one nginx port, TLS 1.2: the api.tlscap.test server requests a client certificate, the default server does not. good: curl by host name with its client certificate, 200. bad: the same curl by IP (no SNI), no CertificateRequest, 401."
listening 8461
begin sni-good "tcp port 8461"
CURL --cacert "$R" "${CERT[@]}" --resolve api.tlscap.test:8461:127.0.0.1 https://api.tlscap.test:8461/
finish
begin sni-bad "tcp port 8461"
CURL -k "${CERT[@]}" https://127.0.0.1:8461/
finish

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

pair pool "two nginx pool members behind api.tlscap.test:8465 (TLS 1.2). good: curl reaches 127.0.0.2, which sends leaf + intermediate, 200. bad: curl reaches 127.0.0.3, which sends its leaf only; curl cannot build the chain and sends alert unknown_ca."
listening 8465
begin pool-good "tcp port 8465"
CURL --cacert "$R" --resolve api.tlscap.test:8465:127.0.0.2 https://api.tlscap.test:8465/
finish
begin pool-bad "tcp port 8465"
CURL --cacert "$R" --resolve api.tlscap.test:8465:127.0.0.3 https://api.tlscap.test:8465/
finish

ls -l "$OUT"
