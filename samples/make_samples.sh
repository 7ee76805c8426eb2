#!/usr/bin/env bash
# make_samples.sh -- small, real TLS/TCP sample captures for tlscap, made by real TLS stacks
# (OpenSSL 3.0 s_server/s_client, curl, nginx, tiny python socket servers) on loopback only.
#
# Everything runs inside a private network namespace ("tlscap-samples") whose loopback has
# MTU 1500 and TSO/GSO/GRO off, so captures show realistic Ethernet-sized TCP segments
# (certificate chains span several segments). Only 127.0.0.1 and ::1 of that namespace are
# ever used; no packet leaves it.
#
# Outputs, beside this script (samples/):
#   pki/                 test PKI (keys included; TEST KEYS ONLY), created only when missing
#   <name>.pcap          one capture per scenario (tcpdump, pcap)
#   <name>.keys          NSS key log written by the client (SSLKEYLOGFILE / -keylogfile)
#   tls13-curl-sni.pcap.gz  gzip'd copy of tls13-curl-sni.pcap
#   multi.pcapng         pcapng copy (editcap -F pcapng) of sni-gated-client-auth.pcap
#   expected.json, README.md   ground truth, computed from tshark's view of every capture
#
# Usage: sudo samples/make_samples.sh            (all scenarios)
#        sudo samples/make_samples.sh NAME...    (only these scenarios; README/expected.json
#                                                 are still rebuilt from every capture present)
# Needs root (network namespace, tcpdump, nftables). Installs its own tools with apt-get.
set -euo pipefail

S="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PKI=$S/pki
# TLSCAP_NS: another namespace name, so that two checkouts can make samples at the same time.
NS=${TLSCAP_NS:-tlscap-samples}
NX=(ip netns exec "$NS")
ONLY=("$@")

# ---------------------------------------------------------------- requirements
if [ "$(id -u)" != 0 ]; then echo "make_samples.sh: must run as root (netns, tcpdump)" >&2; exit 1; fi
need=()
for pair in openssl:openssl curl:curl nginx:nginx tcpdump:tcpdump tshark:tshark \
            editcap:wireshark-common ip:iproute2 ethtool:ethtool nft:nftables \
            python3:python3 gzip:gzip ss:iproute2 haproxy:haproxy; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
# servers and client libraries of the cleartext-login scenarios: Debian's, run by Debian's python
PY=/usr/bin/python3
[ -x "$PY" ] || need+=(python3)
"$PY" -c 'import pyftpdlib' 2>/dev/null || need+=(python3-pyftpdlib)
"$PY" -c 'import aiosmtpd' 2>/dev/null || need+=(python3-aiosmtpd)
[ -x /usr/lib/dovecot/imap ] || need+=(dovecot-imapd)
[ -x /usr/lib/dovecot/pop3 ] || need+=(dovecot-pop3d)
command -v tinyproxy >/dev/null 2>&1 || need+=(tinyproxy)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

RUN=$(mktemp -d /tmp/tlscap-samples.XXXXXX)
META=$RUN/meta
mkdir -p "$META" "$RUN/www"
PIDS=()        # long-lived helpers (nginx)
SPIDS=()       # servers of the current scenario
TPID=""
cleanup() {
  set +e
  [ -n "$TPID" ] && kill -INT "$TPID" 2>/dev/null
  for p in "${SPIDS[@]:-}" "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  # anything still running in our private namespace was started by this script
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null; done
  ip netns del "$NS" 2>/dev/null
  rm -rf "$RUN"
}
trap cleanup EXIT

# ---------------------------------------------------------------- PKI
make_pki() {
  mkdir -p "$PKI" && cd "$PKI"
  q() { "$@" >/dev/null 2>&1 || { echo "PKI step failed: $*" >&2; "$@"; exit 1; }; }
  local D=3650
  cat > ext.cnf <<'EOF'
[root_ca]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
[int_ca]
basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
[server]
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:api.tlscap.test,DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
[server_wrong]
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:wrong.tlscap.test
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
[client]
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
  # minimal `openssl ca` setup for the intermediate, so it keeps an index (for CRL and OCSP)
  # and can sign with explicit start/end dates (expired, not-yet-valid).
  mkdir -p ca/newcerts
  : > ca/index.txt
  echo 1000 > ca/serial
  echo 1000 > ca/crlnumber
  cat > ca.cnf <<EOF
[ca]
default_ca = int
[int]
dir = ca
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
crlnumber = \$dir/crlnumber
certificate = intermediate.pem
private_key = intermediate.key
default_md = sha256
default_days = $D
default_crl_days = $D
policy = any
unique_subject = no
preserve = yes
copy_extensions = none
[any]
organizationName = optional
commonName = supplied
EOF
  subj() { echo "/O=tlscap tests/CN=$1"; }
  # --- trusted hierarchy: root -> intermediate -> leaves (RSA 2048)
  q openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.pem -days 7300 \
      -subj "$(subj 'tlscap Test Root CA')" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign"
  q openssl req -newkey rsa:2048 -nodes -keyout intermediate.key -out intermediate.csr -subj "$(subj 'tlscap Test Intermediate CA')"
  q openssl x509 -req -in intermediate.csr -CA root.pem -CAkey root.key -set_serial 0x100 \
      -out intermediate.pem -days 7300 -sha256 -extfile ext.cnf -extensions int_ca
  # leaf signed by the intermediate through `openssl ca`: sign NAME CN EXT [ca options...]
  sign() {
    local name=$1 cn=$2 ext=$3; shift 3
    [ -f "$name.key" ] || q openssl genrsa -out "$name.key" 2048
    q openssl req -new -key "$name.key" -out "$name.csr" -subj "$(subj "$cn")"
    q openssl ca -batch -config ca.cnf -notext -in "$name.csr" -out "$name.pem" \
        -extfile ext.cnf -extensions "$ext" "$@"
  }
  sign server       api.tlscap.test      server
  sign client       "tlscap test client" client
  sign expired      api.tlscap.test      server -startdate 20200101000000Z -enddate 20210101000000Z
  sign notyetvalid  api.tlscap.test      server -startdate 20990101000000Z -enddate 21000101000000Z
  sign wronghost    wrong.tlscap.test    server_wrong
  sign sha1         api.tlscap.test      server -md sha1
  q openssl genrsa -out rsa1024.key 1024
  sign rsa1024      api.tlscap.test      server
  sign revoked      api.tlscap.test      server
  q openssl ca -batch -config ca.cnf -revoke revoked.pem -crl_reason keyCompromise
  q openssl ca -batch -config ca.cnf -gencrl -out revoked.crl.pem
  # OCSP response "revoked" for revoked.pem, signed by the intermediate (the issuer itself)
  q openssl ocsp -issuer intermediate.pem -cert revoked.pem -no_nonce -reqout revoked.ocsp-req.der
  q openssl ocsp -index ca/index.txt -rsigner intermediate.pem -rkey intermediate.key \
      -CA intermediate.pem -reqin revoked.ocsp-req.der -respout revoked.ocsp.der -ndays $D
  # --- self-signed leaf
  q openssl req -x509 -newkey rsa:2048 -nodes -keyout selfsigned.key -out selfsigned.pem -days $D \
      -subj "$(subj api.tlscap.test)" -addext "subjectAltName=DNS:api.tlscap.test,DNS:localhost,IP:127.0.0.1,IP:::1" \
      -addext "basicConstraints=CA:FALSE" -addext "extendedKeyUsage=serverAuth"
  # --- a second, untrusted hierarchy: other root -> other intermediate -> leaf api.tlscap.test
  q openssl req -x509 -newkey rsa:2048 -nodes -keyout other-root.key -out other-root.pem -days 7300 \
      -subj "$(subj 'tlscap Other Root')" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign"
  q openssl req -newkey rsa:2048 -nodes -keyout other-intermediate.key -out other-intermediate.csr -subj "$(subj 'tlscap Other Intermediate')"
  q openssl x509 -req -in other-intermediate.csr -CA other-root.pem -CAkey other-root.key -set_serial 0x200 \
      -out other-intermediate.pem -days 7300 -sha256 -extfile ext.cnf -extensions int_ca
  q openssl req -newkey rsa:2048 -nodes -keyout other-server.key -out other-server.csr -subj "$(subj api.tlscap.test)"
  q openssl x509 -req -in other-server.csr -CA other-intermediate.pem -CAkey other-intermediate.key -set_serial 0x201 \
      -out other-server.pem -days $D -sha256 -extfile ext.cnf -extensions server
  # --- bundles
  cat server.pem intermediate.pem > server-fullchain.pem
  cat intermediate.pem root.pem > ca-bundle.pem                 # root + intermediate, for client auth
  cat other-intermediate.pem other-root.pem > other-chain.pem     # sent by chain-untrusted
  cat root.pem intermediate.pem > wrong-order-chain.pem           # leaf, root, intermediate
  rm -f ./*.csr
  cd "$S"
}
[ -f "$PKI/wrong-order-chain.pem" ] || make_pki

# Client-authentication additions (new files only; the PKI above is never regenerated): a client
# certificate from the untrusted "Other" hierarchy, and an expired one from the trusted
# intermediate, signed through a CA database of their own (pki/ca-client) so that pki/ca stays
# as it was.
make_pki_clientauth() {
  cd "$PKI"
  q() { "$@" >/dev/null 2>&1 || { echo "PKI step failed: $*" >&2; "$@"; exit 1; }; }
  printf '%s\n' '[client]' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature' \
    'extendedKeyUsage=clientAuth' 'subjectKeyIdentifier=hash' 'authorityKeyIdentifier=keyid' > ext-client.cnf
  q openssl req -newkey rsa:2048 -nodes -keyout other-client.key -out other-client.csr \
      -subj "/O=tlscap tests/CN=tlscap other client"
  q openssl x509 -req -in other-client.csr -CA other-intermediate.pem -CAkey other-intermediate.key \
      -set_serial 0x202 -out other-client.pem -days 3650 -sha256 -extfile ext-client.cnf -extensions client
  mkdir -p ca-client/newcerts
  : > ca-client/index.txt
  echo 2000 > ca-client/serial
  sed 's/^dir = ca$/dir = ca-client/' ca.cnf > ca-client.cnf
  q openssl req -newkey rsa:2048 -nodes -keyout client-expired.key -out client-expired.csr \
      -subj "/O=tlscap tests/CN=tlscap expired client"
  q openssl ca -batch -config ca-client.cnf -notext -in client-expired.csr -out client-expired.pem \
      -extfile ext-client.cnf -extensions client -startdate 20200101000000Z -enddate 20210101000000Z
  rm -f ./*.csr
  cd "$S"
}
[ -f "$PKI/client-expired.pem" ] || make_pki_clientauth

# An ECDSA (P-256) server key, for the signature-algorithm scenario: a leaf for api.tlscap.test
# signed by the intermediate outside its `openssl ca` database (pki/ca stays as it was).
make_pki_ecdsa() {
  cd "$PKI"
  q() { "$@" >/dev/null 2>&1 || { echo "PKI step failed: $*" >&2; "$@"; exit 1; }; }
  q openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ecdsa-server.key \
      -out ecdsa-server.csr -subj "/O=tlscap tests/CN=api.tlscap.test"
  q openssl x509 -req -in ecdsa-server.csr -CA intermediate.pem -CAkey intermediate.key \
      -set_serial 0x300 -out ecdsa-server.pem -days 3650 -sha256 -extfile ext.cnf -extensions server
  rm -f ./*.csr
  cd "$S"
}
[ -f "$PKI/ecdsa-server.pem" ] || make_pki_ecdsa

# ---------------------------------------------------------------- namespace (loopback only)
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
"${NX[@]}" ip link set lo up mtu 1500
"${NX[@]}" ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || echo "warning: could not disable offloads on lo"
"${NX[@]}" sysctl -qw net.ipv6.conf.lo.disable_ipv6=0 || true
for _ in $(seq 50); do "${NX[@]}" ip -6 addr show dev lo | grep -q '::1' && break; sleep 0.1; done

printf 'hello from openssl s_server\n' > "$RUN/www/hello.txt"
mkdir -p "$S/meta"

# ---------------------------------------------------------------- planted secrets
# Fake, distinctive values planted in the secret-leak scenarios. Each scenario lists its values
# in meta/NAME.txt: `secrets:` (readable in the capture bytes) and `secrets_hidden:` (inside TLS,
# or encodings of them that never went on the wire); tests/secrets.rs greps every output of
# tlscap for all of them.
FTP_USER=planted-ftp-user-2c9e;   FTP_PASS=PLANTED-FTP-PASS-7f3a
SMTP_USER=planted-smtp-user-41d0; SMTP_PASS=PLANTED-SMTP-PASS-b812; SMTP_BODY=PLANTED-SMTP-BODY-e5a7
IMAP_USER=planted-imap-user-93fb; IMAP_PASS=PLANTED-IMAP-PASS-0c4d
POP3_USER=planted-pop3-user-d27a; POP3_PASS=PLANTED-POP3-PASS-6e1b
PL_BEARER=PLANTED-BEARER-TOKEN-3a9f
PL_COOKIE=PLANTED-COOKIE-SID-8b2e
PL_JSESSION=PLANTED-JSESSIONID-c71d
PL_QUERY=PLANTED-ACCESS-TOKEN-5f08
PL_APIKEY=PLANTED-API-KEY-HEADER-e03b
PL_POST_PASS=PLANTED-POST-PASS-a4e6
PL_SETCOOKIE=PLANTED-SET-COOKIE-19bd
PL_RESPBODY=PLANTED-RESP-BODY-72c3
PL_BARE=PLANTED-BARE-QUERY-9d2f
PL_NOTLS_COOKIE=PLANTED-NOTLS-SET-COOKIE-4d61
PL_PLAIN_TOKEN=PLANTED-QTOKEN-61fa; PL_PLAIN_COOKIE=PLANTED-PLAIN-COOKIE-0b7e
PROXY_USER=planted-proxy-user-5b3c; PROXY_PASS=PLANTED-PROXY-PASS-e8d4
b64() { printf '%b' "$1" | base64 -w0; }

# ---------------------------------------------------------------- nginx (one instance, many ports)
cat > "$RUN/nginx.conf" <<EOF2
user root;
worker_processes 1;
daemon off;
pid $RUN/nginx.pid;
error_log $RUN/nginx.err warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $RUN/nginx-tmp;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_certificate     $PKI/server-fullchain.pem;
  ssl_certificate_key $PKI/server.key;
  default_type text/plain;

  # tls13-curl-sni (8401), tls12-chain-intermediate (8408), ipv6-tls13 ([::1]:8411)
  server {
    listen 127.0.0.1:8401 ssl; listen 127.0.0.1:8408 ssl; listen [::1]:8411 ssl;
    server_name api.tlscap.test;
    location / { return 200 "hello from nginx api.tlscap.test\n"; }
  }

  # sni-gated-client-auth (8412): the default server (no SNI / unknown name) never asks for a
  # client certificate; only the api.tlscap.test server does. The API answers 401 without one.
  # concurrent-clients (8495): the same two servers, reached by overlapping connections.
  server {
    listen 127.0.0.1:8412 ssl default_server; listen 127.0.0.1:8495 ssl default_server;
    server_name _;
    ssl_protocols TLSv1.2;
    location / { return 401 "client certificate required\n"; }
  }
  server {
    listen 127.0.0.1:8412 ssl; listen 127.0.0.1:8495 ssl;
    server_name api.tlscap.test;
    ssl_protocols TLSv1.2;
    ssl_verify_client optional;
    ssl_client_certificate $PKI/ca-bundle.pem;
    ssl_verify_depth 2;
    location / {
      if (\$ssl_client_verify != SUCCESS) { return 401 "client certificate required\n"; }
      return 200 "hello \$ssl_client_s_dn\n";
    }
  }

  # not-tls (8418): plain HTTP port
  server {
    listen 127.0.0.1:8418;
    location / { return 200 "plain http\n"; }
  }

  # tls13-http-401-200 (8434): TLS 1.3, optional client certificate, 401 without one
  server {
    listen 127.0.0.1:8434 ssl;
    server_name api.tlscap.test;
    ssl_protocols TLSv1.3;
    ssl_verify_client optional;
    ssl_client_certificate $PKI/ca-bundle.pem;
    ssl_verify_depth 2;
    location / {
      if (\$ssl_client_verify != SUCCESS) { return 401 "client certificate required\n"; }
      return 200 "hello \$ssl_client_s_dn\n";
    }
  }

  # http-cleartext-credentials (8435): an API on plain HTTP (no TLS)
  server {
    listen 127.0.0.1:8435;
    location /api/ { default_type application/json; return 200 '{"ok":true}\n'; }
  }

  # https-hmac-query (8436): TLS 1.3 API rejecting the request (query-string HMAC) with 401
  server {
    listen 127.0.0.1:8436 ssl;
    server_name api.tlscap.test;
    ssl_protocols TLSv1.3;
    location /api/ { default_type application/json; return 401 '{"error":"invalid signature"}\n'; }
  }

  # https-bearer-post-200 (8437): TLS 1.2 API accepting a bearer-token POST
  server {
    listen 127.0.0.1:8437 ssl;
    server_name api.tlscap.test;
    ssl_protocols TLSv1.2;
    location /api/ { default_type application/json; return 200 '{"ok":true}\n'; }
  }

  # https-password-get (8438): TLS 1.3 login endpoint that accepts a password in a GET query
  server {
    listen 127.0.0.1:8438 ssl;
    server_name api.tlscap.test;
    ssl_protocols TLSv1.3;
    location /api/ { default_type application/json; return 200 '{"ok":true}\n'; }
  }

  # https-planted-secrets (8443): HTTP/2 and HTTP/1.1 over TLS; every reply sets a planted cookie
  # and carries a planted body. http-to-tls-port (8445): the same server, reached with plain HTTP
  server {
    listen 127.0.0.1:8443 ssl http2; listen 127.0.0.1:8445 ssl;
    server_name api.tlscap.test;
    location /api/ {
      add_header Set-Cookie "session=$PL_SETCOOKIE; Path=/; HttpOnly" always;
      default_type application/json;
      return 200 '{"ok":true,"session_secret":"$PL_RESPBODY"}\n';
    }
  }

  # not-tls-set-cookie (8444): plain HTTP port whose every reply (its 400 to a ClientHello too)
  # sets a planted cookie
  server {
    listen 127.0.0.1:8444;
    add_header Set-Cookie "session=$PL_NOTLS_COOKIE; Path=/" always;
    location / { return 200 "plain http\n"; }
  }
  # client-cert-optional-nginx (8492): asks for a client certificate, never requires one
  server {
    listen 127.0.0.1:8492 ssl;
    server_name api.tlscap.test;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_verify_client optional;
    ssl_client_certificate $PKI/ca-bundle.pem;
    ssl_verify_depth 2;
    location / { return 200 "hello, client certificate: \$ssl_client_verify\n"; }
  }
  # no-client-hello (443): a connection that sends nothing is closed after 2 s (nginx's
  # client_header_timeout also bounds the wait for the ClientHello)
  server {
    listen 127.0.0.1:443 ssl;
    server_name api.tlscap.test;
    client_header_timeout 2s;
    location / { return 200 "hello from nginx api.tlscap.test\n"; }
  }
  # alpn-mismatch (8474): an HTTP/1.x-only server (no http2): nginx refuses a ClientHello whose
  # ALPN offers only h2 (alert no_application_protocol)
  server {
    listen 127.0.0.1:8474 ssl;
    server_name api.tlscap.test;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { return 200 "hello from nginx api.tlscap.test\n"; }
  }
}
EOF2
mkdir -p "$RUN/nginx-tmp"
"${NX[@]}" nginx -c "$RUN/nginx.conf" -e "$RUN/nginx.err" > "$RUN/nginx.out" 2>&1 &
PIDS+=($!)

# ---------------------------------------------------------------- scenario helpers
CUR="" PORT=""
rel() { local s="$*"; s=${s//$S\//samples/}; echo "${s//$RUN/\$RUN}"; }
meta() { printf '%s: %s\n' "$1" "$(rel "$2")" >> "$S/meta/$CUR.txt"; }
shq() {         # a command line as a person would type it (quotes only where needed)
  local a out=()
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then out+=("$a"); else out+=("'$a'"); fi
  done
  echo "${out[*]}"
}
listening() {   # wait until something listens on $PORT in the namespace
  for _ in $(seq 100); do
    [ -n "$("${NX[@]}" ss -Hltn "sport = :$1")" ] && return 0; sleep 0.05
  done
  echo "nothing listens on port $1" >&2; return 1
}
begin() {       # begin NAME PORT DESCRIPTION  -> starts tcpdump on tcp port PORT (or $FILTER)
  CUR=$1 PORT=$2
  echo "== $CUR (port $PORT)"
  rm -f "$S/$CUR.pcap" "$S/$CUR.keys" "$S/meta/$CUR.txt"
  meta desc "$3"
  : > "$RUN/tcpdump.err"
  "${NX[@]}" tcpdump -i lo --immediate-mode -U -s 0 -Z root -w "$S/$CUR.pcap" "${FILTER:-tcp port $PORT}" 2> "$RUN/tcpdump.err" &
  TPID=$!
  for _ in $(seq 100); do grep -q 'listening on' "$RUN/tcpdump.err" && break; sleep 0.05; done
  sleep 0.2
}
expect() { meta "$@"; }    # expect KEY VALUE: ground-truth notes (findings, status) for the README
srv() {         # srv CMD...: start a server for this scenario, cwd = $RUN/www, stdin = /dev/null
  meta server "$(shq "$@")"
  (cd "$RUN/www" && exec "${NX[@]}" "$@" < /dev/null >> "$RUN/$CUR.server.log" 2>&1) &
  SPIDS+=($!)
  listening "$PORT"
}
cli() {         # cli SECONDS CMD...: run a client (bounded by timeout), stdin = $INPUT
  local t=$1; shift
  meta client "${INPUT:+printf '$INPUT' | }$(shq "$@")"
  printf '%b' "${INPUT:-}" | timeout "$t" "${NX[@]}" "$@" >> "$RUN/$CUR.client.log" 2>&1 || true
}
finish() {      # stop tcpdump (flushes), then the scenario's servers
  sleep 0.5
  kill -INT "$TPID"; wait "$TPID" || true; TPID=""
  for p in "${SPIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${SPIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  SPIDS=()
  # a key log without any secret (the handshake never got that far) is not worth keeping
  if [ -f "$S/$CUR.keys" ] && ! grep -qv '^#' "$S/$CUR.keys"; then rm -f "$S/$CUR.keys"; fi
  sed 's/^/   tcpdump: /' "$RUN/tcpdump.err" | grep -v 'listening on' || true
}
want() { [ ${#ONLY[@]} -eq 0 ] && return 0; local n; for n in "${ONLY[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }

R=$PKI/root.pem
GET='GET /hello.txt HTTP/1.0\r\nHost: api.tlscap.test\r\n\r\n'
# OpenSSL server: serves files of $RUN/www (-WWW), one request per connection, then closes.
SSRV=(openssl s_server -WWW -cert "$PKI/server.pem" -key "$PKI/server.key" -cert_chain "$PKI/intermediate.pem")
# OpenSSL client: verifies like a real client, aborts with an alert on verification errors.
SC() { local port=$1; shift; cli 10 openssl s_client -connect "127.0.0.1:$port" -keylogfile "$S/$CUR.keys" -ign_eof "$@"; }
CURL() { cli 15 env SSLKEYLOGFILE="$S/$CUR.keys" curl -sS -o /dev/null -w '%{http_code}\n' "$@"; }
VERIFY=(-CAfile "$R" -verify_return_error -verify_hostname api.tlscap.test)

# ---------------------------------------------------------------- scenarios
# Each: begin NAME PORT DESC; expect KEY VALUE (ground truth: findings.N / status.N per
# connection N in file order); servers (srv); clients (cli / SC / CURL); finish.
export INPUT=""

sc_tls13_curl_sni() {
  begin tls13-curl-sni 8401 "TLS 1.3 with SNI, curl -> nginx sending leaf + intermediate; HTTP 200."
  expect status.0 ok; expect findings.0 ""
  listening 8401
  CURL --cacert "$R" --resolve api.tlscap.test:8401:127.0.0.1 https://api.tlscap.test:8401/
  finish
}
sc_capture_handshakes_only() {
  FILTER="tcp port 8401 and tcp[tcpflags] & tcp-syn != 0" begin capture-handshakes-only 8401 "A capture that keeps the SYN and SYN-ACK of each connection only (tcpdump filter 'tcp[tcpflags] & tcp-syn != 0'): two curl requests to nginx 3 s apart, both of which worked (HTTP 200). The first connection's SYN-ACK is never acknowledged in the capture though it goes on 3 s; the capture ends right after the second's SYN-ACK."
  expect status.0 incomplete; expect findings.0 "capture-cut"
  expect status.1 incomplete; expect findings.1 "capture-cut"
  listening 8401
  CURL --cacert "$R" --resolve api.tlscap.test:8401:127.0.0.1 https://api.tlscap.test:8401/
  sleep 3
  CURL --cacert "$R" --resolve api.tlscap.test:8401:127.0.0.1 https://api.tlscap.test:8401/
  finish
  # The handshakes' secrets are of no use without the handshakes.
  rm -f "$S/$CUR.keys"
}
sc_tls12_openssl_sni() {
  begin tls12-openssl-sni 8402 "TLS 1.2 with SNI, openssl s_client -> s_server (leaf + intermediate), GET and clean close."
  expect status.0 ok; expect findings.0 ""
  srv "${SSRV[@]}" -accept 8402 -tls1_2
  INPUT=$GET SC 8402 -tls1_2 -servername api.tlscap.test "${VERIFY[@]}"
  finish
}
sc_tls12_no_sni() {
  begin tls12-no-sni 8403 "TLS 1.2 without SNI (s_client -noservername); handshake succeeds."
  expect status.0 ok; expect findings.0 "missing-sni"
  srv "${SSRV[@]}" -accept 8403 -tls1_2
  INPUT=$GET SC 8403 -tls1_2 -noservername "${VERIFY[@]}"
  finish
}
sc_tls12_mtls_cert_sent() {
  begin tls12-mtls-cert-sent 8404 "TLS 1.2 mutual TLS: server requires a client certificate (-Verify 1), client sends 'tlscap test client' + intermediate; succeeds."
  expect status.0 ok; expect findings.0 ""
  srv "${SSRV[@]}" -accept 8404 -tls1_2 -Verify 1 -CAfile "$PKI/ca-bundle.pem"
  INPUT=$GET SC 8404 -tls1_2 -servername api.tlscap.test "${VERIFY[@]}" \
    -cert "$PKI/client.pem" -key "$PKI/client.key" -cert_chain "$PKI/intermediate.pem"
  finish
}
sc_tls12_mtls_no_cert() {
  begin tls12-mtls-no-cert 8405 "TLS 1.2 mutual TLS: server requires a client certificate, client sends an empty Certificate; server aborts with a fatal alert in clear."
  expect status.0 alert; expect findings.0 "client-cert-missing tls-alert"
  srv "${SSRV[@]}" -accept 8405 -tls1_2 -Verify 1 -CAfile "$PKI/ca-bundle.pem"
  INPUT=$GET SC 8405 -tls1_2 -servername api.tlscap.test "${VERIFY[@]}"
  finish
}
sc_tls13_mtls_cert_sent() {
  begin tls13-mtls-cert-sent 8406 "TLS 1.3 mutual TLS: server requires a client certificate, client sends it; succeeds (CertificateRequest/Certificate encrypted: keys needed to see them)."
  expect status.0 ok; expect findings.0 ""
  srv "${SSRV[@]}" -accept 8406 -tls1_3 -Verify 1 -CAfile "$PKI/ca-bundle.pem"
  INPUT=$GET SC 8406 -tls1_3 -servername api.tlscap.test "${VERIFY[@]}" \
    -cert "$PKI/client.pem" -key "$PKI/client.key" -cert_chain "$PKI/intermediate.pem"
  finish
}
sc_tls13_mtls_no_cert() {
  begin tls13-mtls-no-cert 8407 "TLS 1.3 mutual TLS: server requires a client certificate, client sends none; server's fatal alert certificate_required is encrypted (visible with the key log)."
  expect status.0 alert; expect findings.0 "client-cert-missing tls-alert"
  srv "${SSRV[@]}" -accept 8407 -tls1_3 -Verify 1 -CAfile "$PKI/ca-bundle.pem"
  INPUT=$GET SC 8407 -tls1_3 -servername api.tlscap.test "${VERIFY[@]}"
  finish
}
sc_tls12_chain_intermediate() {
  begin tls12-chain-intermediate 8408 "TLS 1.2 (curl -> nginx), server sends leaf + intermediate (complete chain). tls12-openssl-sni shows the same chain from OpenSSL s_server."
  expect status.0 ok; expect findings.0 ""
  listening 8408
  CURL --tlsv1.2 --tls-max 1.2 --cacert "$R" --resolve api.tlscap.test:8408:127.0.0.1 https://api.tlscap.test:8408/
  finish
}
sc_tls12_leaf_only() {
  begin tls12-leaf-only 8409 "TLS 1.2, server sends only its leaf (no intermediate): the client cannot build a chain to the root and aborts with unknown_ca."
  expect status.0 alert; expect findings.0 "chain-incomplete tls-alert"
  srv openssl s_server -WWW -cert "$PKI/server.pem" -key "$PKI/server.key" -accept 8409 -tls1_2
  INPUT=$GET SC 8409 -tls1_2 -servername api.tlscap.test "${VERIFY[@]}"
  finish
}
sc_tls12_alert_unknown_ca() {
  begin tls12-alert-unknown-ca 8410 "TLS 1.2, correct chain, but the client trusts only 'tlscap Other Root': client sends fatal alert unknown_ca."
  expect status.0 alert; expect findings.0 "tls-alert"
  srv "${SSRV[@]}" -accept 8410 -tls1_2
  INPUT=$GET SC 8410 -tls1_2 -servername api.tlscap.test -CAfile "$PKI/other-root.pem" -verify_return_error
  finish
}
sc_ipv6_tls13() {
  begin ipv6-tls13 8411 "TLS 1.3 over IPv6 loopback [::1], curl with SNI -> nginx; HTTP 200."
  expect status.0 ok; expect findings.0 ""
  listening 8411
  CURL --cacert "$R" --resolve 'api.tlscap.test:8411:[::1]' https://api.tlscap.test:8411/
  finish
}
sc_sni_gated_client_auth() {
  begin sni-gated-client-auth 8412 "nginx, one port, TLS 1.2: the api.tlscap.test server asks for a client certificate, the default server does not. Connection 0 sends SNI -> CertificateRequest, client cert sent, HTTP 200. Connection 1 connects by IP (no SNI) with the same client cert configured -> default server, no CertificateRequest, HTTP 401."
  expect status.0 ok; expect findings.0 ""
  expect status.1 ok; expect findings.1 "missing-sni sni-gated-client-auth client-cert-not-requested"
  listening 8412
  CURL --cacert "$R" --cert "$PKI/client.pem" --key "$PKI/client.key" \
    --resolve api.tlscap.test:8412:127.0.0.1 https://api.tlscap.test:8412/
  CURL -k --cert "$PKI/client.pem" --key "$PKI/client.key" https://127.0.0.1:8412/
  finish
}
sc_concurrent_clients() {
  begin concurrent-clients 8495 "sni-gated-client-auth's nginx, with 8 openssl s_client connections open at once: each starts 0.15 s after the previous one and sends its request 1.5 s after its start, so every handshake, request and answer interleaves with the others' packets. Even connections send SNI and the client cert -> CertificateRequest, HTTP 200; odd ones send no SNI (-noservername) with the same cert configured -> default server, no CertificateRequest, HTTP 401."
  listening 8495
  local i sni cmd cpids=()
  for i in 0 1 2 3 4 5 6 7; do
    if [ $((i % 2)) = 0 ]; then
      sni=(-servername api.tlscap.test)
      expect "status.$i" ok; expect "findings.$i" ""
    else
      sni=(-noservername)
      expect "status.$i" ok; expect "findings.$i" "missing-sni sni-gated-client-auth client-cert-not-requested"
    fi
    cmd=(openssl s_client -connect 127.0.0.1:8495 -keylogfile "$S/$CUR.keys" -ign_eof -tls1_2 "${sni[@]}"
         -cert "$PKI/client.pem" -key "$PKI/client.key" -CAfile "$R")
    meta client "(sleep 1.5; printf '$GET') | $(shq "${cmd[@]}")"
    ( (sleep 1.5; printf '%b' "$GET") | timeout 10 "${NX[@]}" "${cmd[@]}" >> "$RUN/$CUR.client.log" 2>&1 || true ) &
    cpids+=($!)
    sleep 0.15
  done
  wait "${cpids[@]}"
  finish
}
sc_no_client_hello() {
  begin no-client-hello 443 "nginx on port 443 (client_header_timeout 2s); three TCP clients (python sockets, samples/tools/silentclient.py) that never send a ClientHello. Connection 0 connects and closes at once (FIN), like a port probe. Connection 1 connects and stays silent: nginx closes it after 2 s (FIN). Connection 2 starts a non-blocking connect while an nftables rule drops the SYN-ACK, and closes its socket 0.3 s later; the rule is removed and the kernel answers the server's retransmitted SYN-ACK with a RST, as for a browser that gave up on an attempt."
  expect status.0 incomplete; expect findings.0 "no-client-hello"
  expect status.1 incomplete; expect findings.1 "no-client-hello"
  expect status.2 incomplete; expect findings.2 "no-client-hello"
  listening 443
  meta server "(nginx) listen 127.0.0.1:443 ssl; client_header_timeout 2s;"
  cli 5 "$PY" "$S/tools/silentclient.py" close 127.0.0.1 443
  sleep 0.3
  cli 8 "$PY" "$S/tools/silentclient.py" idle 127.0.0.1 443 4
  sleep 0.3
  "${NX[@]}" nft add table inet tlscap_nch
  "${NX[@]}" nft add chain inet tlscap_nch input '{ type filter hook input priority 0; policy accept; }'
  "${NX[@]}" nft add rule inet tlscap_nch input tcp sport 443 'tcp flags & (syn|ack) == syn|ack' drop
  meta client "(nftables, until the client has closed) nft add rule inet tlscap_nch input tcp sport 443 'tcp flags & (syn|ack) == syn|ack' drop"
  cli 5 "$PY" "$S/tools/silentclient.py" abandon 127.0.0.1 443
  "${NX[@]}" nft delete table inet tlscap_nch
  sleep 2.5
  finish
}
sc_tcp_connect_timeout() {
  begin tcp-connect-timeout 8413 "SYNs to port 8413 are dropped by an nftables rule: curl --connect-timeout 8 retransmits its SYN and gives up; no answer at all."
  expect status.0 timeout; expect findings.0 "tcp-connect-timeout"
  "${NX[@]}" nft add table inet tlscap
  "${NX[@]}" nft add chain inet tlscap input '{ type filter hook input priority 0; policy accept; }'
  "${NX[@]}" nft add rule inet tlscap input tcp dport 8413 drop
  meta server "(none) nft add rule inet tlscap input tcp dport 8413 drop"
  CURL --connect-timeout 8 --cacert "$R" --resolve api.tlscap.test:8413:127.0.0.1 https://api.tlscap.test:8413/
  "${NX[@]}" nft delete table inet tlscap
  finish
}
sc_tcp_refused() {
  begin tcp-refused 8414 "Nothing listens on port 8414: the SYN is answered by RST (connection refused)."
  expect status.0 refused; expect findings.0 "tcp-refused"
  meta server "(none: closed port)"
  CURL --cacert "$R" --resolve api.tlscap.test:8414:127.0.0.1 https://api.tlscap.test:8414/
  finish
}
sc_tcp_reset_midway() {
  begin tcp-reset-midway 8415 "TCP accepted, the server reads the ClientHello then aborts with RST (SO_LINGER 0) during the handshake."
  expect status.0 reset; expect findings.0 "tcp-reset"
  srv python3 "$S/tools/tcpserver.py" rst-after-clienthello 127.0.0.1 8415
  CURL --cacert "$R" --resolve api.tlscap.test:8415:127.0.0.1 https://api.tlscap.test:8415/
  finish
}
sc_tcp_reset_after_handshake() {
  begin tcp-reset-after-handshake 8419 "TLS 1.3 handshake completes (python ssl server), curl sends GET, the server aborts the TCP connection with RST instead of answering."
  expect status.0 reset; expect findings.0 "tcp-reset"
  srv python3 "$S/tools/tcpserver.py" rst-after-request 127.0.0.1 8419 "$PKI/server-fullchain.pem" "$PKI/server.key"
  CURL --cacert "$R" --resolve api.tlscap.test:8419:127.0.0.1 https://api.tlscap.test:8419/
  finish
}
sc_tcp_reset_after_close_notify() {
  begin tcp-reset-after-close-notify 8496 "TLS 1.3 (python ssl client -> python ssl server, key log): GET answered 200; the client sends close_notify and closes with SO_LINGER 0 (RST right after it), as many HTTP clients end a connection they are done with. Healthy: the reset is info with the key log (a warning without: the close_notify is encrypted)."
  expect status.0 ok; expect findings.0 "tcp-reset"
  srv python3 "$S/tools/tcpserver.py" answer-then-wait 127.0.0.1 8496 "$PKI/server-fullchain.pem" "$PKI/server.key"
  cli 10 python3 "$S/tools/abortiveclient.py" 127.0.0.1 8496 api.tlscap.test "$R" "$S/$CUR.keys"
  finish
}
sc_handshake_stalled() {
  begin handshake-stalled 8416 "TCP accepted, the server never answers the ClientHello; the client (openssl s_client under timeout 6) gives up after 6 s and closes with FIN."
  expect status.0 stalled; expect findings.0 "handshake-stalled"
  srv python3 "$S/tools/tcpserver.py" silent 127.0.0.1 8416
  INPUT="" cli 6 openssl s_client -connect 127.0.0.1:8416 -servername api.tlscap.test -keylogfile "$S/$CUR.keys" -ign_eof
  finish
}
sc_read_timeout() {
  begin read-timeout 8417 "TLS 1.3 handshake completes, curl sends GET, the server (s_server without -www) never answers; curl --max-time 7 gives up and closes."
  expect status.0 timeout; expect findings.0 "read-timeout"
  meta server "sleep 30 | openssl s_server -cert samples/pki/server.pem -key samples/pki/server.key -cert_chain samples/pki/intermediate.pem -accept 8417"
  (cd "$RUN/www" && sleep 30 | "${NX[@]}" openssl s_server -cert "$PKI/server.pem" -key "$PKI/server.key" \
      -cert_chain "$PKI/intermediate.pem" -accept 8417 >> "$RUN/$CUR.server.log" 2>&1) &
  SPIDS+=($!)
  listening 8417
  CURL --max-time 7 --cacert "$R" --resolve api.tlscap.test:8417:127.0.0.1 https://api.tlscap.test:8417/
  finish
}
sc_not_tls() {
  begin not-tls 8418 "TLS client (curl https://) to a plain-HTTP nginx port: the server answers 'HTTP/1.1 400 Bad Request' in clear text."
  expect status.0 not-tls; expect findings.0 "not-tls"
  listening 8418
  CURL --cacert "$R" --resolve api.tlscap.test:8418:127.0.0.1 https://api.tlscap.test:8418/
  finish
}
cert_case() {   # cert_case NAME PORT DESC FINDINGS STATUS CERT KEY [CHAIN|-] [extra s_client args...]
  local name=$1 port=$2 desc=$3 f=$4 st=$5 cert=$6 key=$7 chain=$8; shift 8
  begin "$name" "$port" "$desc"
  expect status.0 "$st"; expect findings.0 "$f"
  local ch=(); [ "$chain" != - ] && ch=(-cert_chain "$chain")
  srv openssl s_server -WWW -cert "$cert" -key "$key" "${ch[@]}" -accept "$port" -tls1_2 ${SRV_EXTRA:-}
  INPUT=$GET SC "$port" -tls1_2 -servername api.tlscap.test "$@"
  finish
}
sc_cert_expired() {
  cert_case cert-expired 8420 "TLS 1.2, leaf expired (2020-01-01..2021-01-01); client aborts with alert certificate_expired." \
    "cert-expired tls-alert" alert "$PKI/expired.pem" "$PKI/expired.key" "$PKI/intermediate.pem" "${VERIFY[@]}"
}
sc_cert_not_yet_valid() {
  cert_case cert-not-yet-valid 8421 "TLS 1.2, leaf not valid before 2099-01-01; client aborts with a fatal alert." \
    "cert-not-yet-valid tls-alert" alert "$PKI/notyetvalid.pem" "$PKI/notyetvalid.key" "$PKI/intermediate.pem" "${VERIFY[@]}"
}
sc_cert_wrong_host() {
  cert_case cert-wrong-host 8422 "TLS 1.2, client asks for api.tlscap.test (SNI) but the leaf is for wrong.tlscap.test only; client aborts with a fatal alert." \
    "hostname-mismatch tls-alert" alert "$PKI/wronghost.pem" "$PKI/wronghost.key" "$PKI/intermediate.pem" "${VERIFY[@]}"
}
sc_cert_self_signed() {
  cert_case cert-self-signed 8423 "TLS 1.2, server sends a self-signed leaf for api.tlscap.test; client aborts with a fatal alert." \
    "self-signed tls-alert" alert "$PKI/selfsigned.pem" "$PKI/selfsigned.key" - "${VERIFY[@]}"
}
sc_cert_weak_signature_sha1() {
  SRV_EXTRA="-cipher DEFAULT@SECLEVEL=0" cert_case cert-weak-signature-sha1 8424 "TLS 1.2, leaf signed with sha1WithRSAEncryption; both sides at SECLEVEL=0, handshake succeeds." \
    "weak-signature" ok "$PKI/sha1.pem" "$PKI/sha1.key" "$PKI/intermediate.pem" "${VERIFY[@]}" -cipher DEFAULT@SECLEVEL=0
}
sc_cert_weak_key_rsa1024() {
  SRV_EXTRA="-cipher DEFAULT@SECLEVEL=0" cert_case cert-weak-key-rsa1024 8425 "TLS 1.2, leaf has an RSA 1024-bit key; both sides at SECLEVEL=0, handshake succeeds." \
    "weak-key" ok "$PKI/rsa1024.pem" "$PKI/rsa1024.key" "$PKI/intermediate.pem" "${VERIFY[@]}" -cipher DEFAULT@SECLEVEL=0
}
sc_chain_untrusted() {
  cert_case chain-untrusted 8426 "TLS 1.2, server sends a full chain of another hierarchy (leaf, 'tlscap Other Intermediate', 'tlscap Other Root'); the client trusts only 'tlscap Test Root CA' and aborts." \
    "chain-untrusted tls-alert" alert "$PKI/other-server.pem" "$PKI/other-server.key" "$PKI/other-chain.pem" "${VERIFY[@]}"
}
sc_chain_order() {
  cert_case chain-order 8427 "TLS 1.2, server sends leaf, root, intermediate (wrong order, root included); OpenSSL's client still verifies and succeeds." \
    "chain-order" ok "$PKI/server.pem" "$PKI/server.key" "$PKI/wrong-order-chain.pem" "${VERIFY[@]}"
}
sc_cert_revoked_ocsp() {
  SRV_EXTRA="-status_file $PKI/revoked.ocsp.der" cert_case cert-revoked-ocsp 8428 "TLS 1.2, server staples an OCSP response saying its leaf is revoked (keyCompromise); s_client -status does not enforce it, handshake succeeds." \
    "cert-revoked" ok "$PKI/revoked.pem" "$PKI/revoked.key" "$PKI/intermediate.pem" "${VERIFY[@]}" -status
}
sc_cert_revoked_crl() {
  cert_case cert-revoked-crl 8429 "TLS 1.2, server's leaf is listed in samples/pki/revoked.crl.pem; the client checks that CRL and aborts with certificate_revoked (tlscap must be given --crl samples/pki/revoked.crl.pem)." \
    "cert-revoked tls-alert" alert "$PKI/revoked.pem" "$PKI/revoked.key" "$PKI/intermediate.pem" "${VERIFY[@]}" -crl_check -CRL "$PKI/revoked.crl.pem"
}
sc_obsolete_tls10() {
  begin obsolete-tls10 8430 "TLS 1.0 negotiated (both sides -tls1 at SECLEVEL=0); succeeds."
  expect status.0 ok; expect findings.0 "obsolete-version"
  srv "${SSRV[@]}" -accept 8430 -tls1 -cipher DEFAULT@SECLEVEL=0
  INPUT=$GET SC 8430 -tls1 -cipher DEFAULT@SECLEVEL=0 -servername api.tlscap.test "${VERIFY[@]}"
  finish
}
sc_weak_cipher_null() {
  begin weak-cipher-null 8431 "TLS 1.2, the server only allows NULL-SHA256 (no encryption; 3DES is not available in this OpenSSL build); client offers AES-GCM and NULL-SHA256, server picks TLS_RSA_WITH_NULL_SHA256. The HTTP request is readable in clear."
  expect status.0 ok; expect findings.0 "weak-cipher"
  srv "${SSRV[@]}" -accept 8431 -tls1_2 -cipher NULL-SHA256@SECLEVEL=0
  INPUT=$GET SC 8431 -tls1_2 -cipher 'ECDHE-RSA-AES128-GCM-SHA256:NULL-SHA256@SECLEVEL=0' -servername api.tlscap.test "${VERIFY[@]}"
  finish
}
sc_tls13_hello_retry() {
  begin tls13-hello-retry 8432 "TLS 1.3: client's key share is X25519 only, server accepts only P-256 -> HelloRetryRequest, second ClientHello, success."
  expect status.0 ok; expect findings.0 ""
  srv "${SSRV[@]}" -accept 8432 -tls1_3 -groups P-256
  INPUT=$GET SC 8432 -tls1_3 -groups X25519:P-256 -servername api.tlscap.test "${VERIFY[@]}"
  finish
}
sc_tls12_resumption() {
  begin tls12-resumption 8433 "TLS 1.2: a full handshake saving the session (-sess_out), then a second connection resuming it (-sess_in, abbreviated handshake without Certificate)."
  expect status.0 ok; expect findings.0 ""; expect status.1 ok; expect findings.1 ""
  srv "${SSRV[@]}" -accept 8433 -tls1_2
  INPUT=$GET SC 8433 -tls1_2 -servername api.tlscap.test "${VERIFY[@]}" -sess_out "$RUN/sess.pem"
  INPUT=$GET SC 8433 -tls1_2 -servername api.tlscap.test "${VERIFY[@]}" -sess_in "$RUN/sess.pem"
  finish
}
sc_tls13_http_401_200() {
  begin tls13-http-401-200 8434 "nginx TLS 1.3 with optional client certificate: connection 0 sends the client cert -> HTTP 200; connection 1 sends none -> HTTP 401 (status codes visible with the key log)."
  expect status.0 ok; expect findings.0 ""
  expect status.1 ok; expect findings.1 "client-cert-missing"
  listening 8434
  CURL --cacert "$R" --cert "$PKI/client.pem" --key "$PKI/client.key" \
    --resolve api.tlscap.test:8434:127.0.0.1 https://api.tlscap.test:8434/
  CURL --cacert "$R" --resolve api.tlscap.test:8434:127.0.0.1 https://api.tlscap.test:8434/
  finish
}

# Fake credentials (test values only) for the HTTP credential scenarios.
HMAC_SIG=abc123def4567890abc123def4567890abc123def4567890abc123def4567890
BEARER=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ0bHNjYXAtdGVzdCJ9.dGVzdC1zaWduYXR1cmUtbm90LXJlYWw
sc_http_cleartext_credentials() {
  begin http-cleartext-credentials 8435 "Plain HTTP (no TLS), curl -> nginx: GET with HTTP Basic credentials (-u apiuser:apipass) and an API key in the query string (api_key=...); nginx answers 200. Everything, credentials included, is readable on the wire."
  expect status.0 incomplete; expect findings.0 "cleartext-credentials credentials-in-url"
  expect http_detail yes
  secrets SECRETVALUE "$(b64 apiuser:apipass)"; secrets_hidden apipass
  listening 8435
  cli 15 curl -sS -o /dev/null -w '%{http_code}\n' -u apiuser:apipass 'http://127.0.0.1:8435/api/v1/records?api_key=SECRETVALUE'
  finish
}
sc_https_hmac_query() {
  begin https-hmac-query 8436 "TLS 1.3 (curl -> nginx, key log): GET whose query string carries a ServiceNow-style HMAC signature, key id and timestamp; nginx answers 401. The request and the 401 are visible only with the key log."
  expect status.0 ok; expect findings.0 "credentials-in-url http-unauthorized"
  expect http_detail yes
  secrets_hidden "$HMAC_SIG"
  listening 8436
  CURL --cacert "$R" --resolve api.tlscap.test:8436:127.0.0.1 \
    "https://api.tlscap.test:8436/api/now/table/incident?x-sn-hmac-signature-256=$HMAC_SIG&x-sn-hmac-key-id=k1&x-sn-hmac-timestamp=1700000000"
  finish
}
sc_https_bearer_post_200() {
  begin https-bearer-post-200 8437 "TLS 1.2 (curl -> nginx, key log): a healthy authenticated API call, POST with an Authorization: Bearer token and a JSON body; nginx answers 200. No error finding."
  expect status.0 ok; expect findings.0 ""
  expect http_detail yes
  secrets_hidden "$BEARER"
  listening 8437
  CURL --tlsv1.2 --tls-max 1.2 --cacert "$R" --resolve api.tlscap.test:8437:127.0.0.1 \
    -X POST -H "Authorization: Bearer $BEARER" -H 'Content-Type: application/json' -d '{"a":1}' \
    https://api.tlscap.test:8437/api/v1/records
  finish
}
sc_https_password_get() {
  begin https-password-get 8438 "TLS 1.3 (curl -> nginx, key log): GET to a login endpoint with the user name and password in the query string; nginx answers 200. The request is visible only with the key log."
  expect status.0 ok; expect findings.0 "credentials-in-url sensitive-get"
  expect http_detail yes
  secrets_hidden apipass
  listening 8438
  CURL --cacert "$R" --resolve api.tlscap.test:8438:127.0.0.1 \
    'https://api.tlscap.test:8438/api/v1/login?user=apiuser&password=apipass'
  finish
}

secrets() { meta secrets "$*"; }               # planted values readable in the capture bytes
secrets_hidden() { meta secrets_hidden "$*"; } # planted values inside TLS / never on the wire
sc_ftp_login() {
  begin ftp-login 8439 "FTP control connection in clear (Python ftplib -> pyftpdlib): USER/PASS with a planted user name and password, PWD, QUIT. No TLS at all; the connection is listed with --all."
  expect status.0 incomplete; expect findings.0 ""
  secrets "$FTP_USER" "$FTP_PASS"
  secrets_hidden "$(b64 "$FTP_USER:$FTP_PASS")" "$(b64 "$FTP_PASS")"
  srv "$PY" "$S/tools/loginserver.py" ftp 127.0.0.1 8439 "$FTP_USER" "$FTP_PASS"
  cli 15 "$PY" "$S/tools/loginclient.py" ftp 127.0.0.1 8439 "$FTP_USER" "$FTP_PASS"
  finish
}
sc_smtp_auth() {
  begin smtp-auth 8440 "SMTP in clear (Python smtplib -> aiosmtpd with AUTH allowed without TLS): connection 0 logs in with AUTH PLAIN, connection 1 with AUTH LOGIN; each then sends a message whose body is a planted value. No TLS at all; the connections are listed with --all."
  expect status.0 incomplete; expect findings.0 ""; expect status.1 incomplete; expect findings.1 ""
  secrets "$SMTP_USER" "$SMTP_BODY" "$(b64 "\\0$SMTP_USER\\0$SMTP_PASS")" "$(b64 "$SMTP_USER")" "$(b64 "$SMTP_PASS")"
  secrets_hidden "$SMTP_PASS" "$(b64 "$SMTP_USER:$SMTP_PASS")"
  srv "$PY" "$S/tools/loginserver.py" smtp 127.0.0.1 8440 "$SMTP_USER" "$SMTP_PASS"
  cli 15 "$PY" "$S/tools/loginclient.py" smtp-plain 127.0.0.1 8440 "$SMTP_USER" "$SMTP_PASS" "$SMTP_BODY"
  cli 15 "$PY" "$S/tools/loginclient.py" smtp-login 127.0.0.1 8440 "$SMTP_USER" "$SMTP_PASS" "$SMTP_BODY"
  finish
}
dovecot_conf() {  # dovecot for IMAP (8441) and POP3 (8442), plaintext logins allowed, no TLS
  mkdir -p "$RUN/dovecot/base" "$RUN/dovecot/state" "$RUN/mail"
  chmod 755 "$RUN" "$RUN/dovecot"
  chown 65534:65534 "$RUN/mail"
  printf '%s:{PLAIN}%s\n' "$IMAP_USER" "$IMAP_PASS" "$POP3_USER" "$POP3_PASS" > "$RUN/dovecot/passwd"
  chmod 644 "$RUN/dovecot/passwd"
  cat > "$RUN/dovecot/dovecot.conf" <<EOF3
protocols = imap pop3
listen = 127.0.0.1
base_dir = $RUN/dovecot/base
state_dir = $RUN/dovecot/state
log_path = $RUN/dovecot/log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = $RUN/dovecot/passwd
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$RUN/mail/%u
}
mail_location = maildir:~/Maildir
service imap-login {
  inet_listener imap {
    port = 8441
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 8442
  }
  inet_listener pop3s {
    port = 0
  }
}
EOF3
}
sc_imap_login() {
  begin imap-login 8441 "IMAP in clear (Python imaplib -> dovecot, passwd-file user, plaintext auth allowed): LOGIN with a planted user name and password, SELECT INBOX, LOGOUT. No TLS at all; the connection is listed with --all."
  expect status.0 incomplete; expect findings.0 ""
  secrets "$IMAP_USER" "$IMAP_PASS"
  secrets_hidden "$(b64 "$IMAP_USER:$IMAP_PASS")" "$(b64 "$IMAP_PASS")"
  dovecot_conf
  srv dovecot -F -c "$RUN/dovecot/dovecot.conf"
  cli 15 "$PY" "$S/tools/loginclient.py" imap 127.0.0.1 8441 "$IMAP_USER" "$IMAP_PASS"
  finish
}
sc_pop3_login() {
  begin pop3-login 8442 "POP3 in clear (Python poplib -> dovecot, passwd-file user, plaintext auth allowed): USER/PASS with a planted user name and password, STAT, QUIT. No TLS at all; the connection is listed with --all."
  expect status.0 incomplete; expect findings.0 ""
  secrets "$POP3_USER" "$POP3_PASS"
  secrets_hidden "$(b64 "$POP3_USER:$POP3_PASS")" "$(b64 "$POP3_PASS")"
  dovecot_conf
  srv dovecot -F -c "$RUN/dovecot/dovecot.conf"
  cli 15 "$PY" "$S/tools/loginclient.py" pop3 127.0.0.1 8442 "$POP3_USER" "$POP3_PASS"
  finish
}
sc_https_planted_secrets() {
  begin https-planted-secrets 8443 "curl -> nginx (key log), connection 0 HTTP/2 over TLS 1.3, connection 1 HTTP/1.1 over TLS 1.2: each two POSTs carrying planted secrets in Authorization: Bearer, Cookie, X-Api-Key and the form body, the first with a ;jsessionid= path parameter and an access_token query value, the second with a bare query token (?PLANTED-...); nginx answers 200 with a planted Set-Cookie and a planted body. Everything is readable only with the key log. curl ends the HTTP/2 connection with a RST (it closes with the server's NewSessionTickets unread)."
  expect status.0 ok; expect findings.0 "credentials-in-url"
  expect status.1 ok; expect findings.1 "credentials-in-url"
  expect http_detail yes
  secrets_hidden "$PL_BEARER" "$PL_COOKIE" "$PL_APIKEY" "$PL_JSESSION" "$PL_QUERY" "$PL_POST_PASS" "$PL_SETCOOKIE" "$PL_RESPBODY" "$PL_BARE"
  listening 8443
  local url="https://api.tlscap.test:8443/api/v1/orders;jsessionid=$PL_JSESSION/items?access_token=$PL_QUERY&page=2"
  local url2="https://api.tlscap.test:8443/api/v1/export?$PL_BARE"
  local common=(--cacert "$R" --resolve api.tlscap.test:8443:127.0.0.1 -H "Authorization: Bearer $PL_BEARER"
                -H "Cookie: sid=$PL_COOKIE" -H "X-Api-Key: $PL_APIKEY" -d "user=alice&password=$PL_POST_PASS")
  CURL --http2 "${common[@]}" "$url" "$url2"
  CURL --http1.1 --tlsv1.2 --tls-max 1.2 "${common[@]}" "$url" "$url2"
  finish
}
sc_not_tls_set_cookie() {
  begin not-tls-set-cookie 8444 "TLS client (curl https://) to a plain-HTTP nginx port that sets a planted cookie on every reply: the server answers 'HTTP/1.1 400 Bad Request' with Set-Cookie in clear text."
  expect status.0 not-tls; expect findings.0 "not-tls"
  secrets "$PL_NOTLS_COOKIE"
  listening 8444
  CURL --cacert "$R" --resolve api.tlscap.test:8444:127.0.0.1 https://api.tlscap.test:8444/
  finish
}
sc_http_to_tls_port() {
  begin http-to-tls-port 8445 "Plain-HTTP client (curl http://) to nginx's TLS port: a GET whose first line carries a planted access_token query value, with a planted Cookie; nginx answers in clear with 400 (plain HTTP request sent to HTTPS port). No TLS record at all: tlscap sees a plain-HTTP connection carrying a credential."
  expect status.0 cleartext; expect findings.0 "cleartext-credentials credentials-in-url sensitive-get"
  expect http_detail yes
  secrets "$PL_PLAIN_TOKEN" "$PL_PLAIN_COOKIE"
  listening 8445
  cli 15 curl -sS -o /dev/null -w '%{http_code}\n' -H "Cookie: sid=$PL_PLAIN_COOKIE" \
    "http://127.0.0.1:8445/v1?access_token=$PL_PLAIN_TOKEN"
  finish
}
sc_proxy_connect_auth() {
  begin proxy-connect-auth 8446 "curl -> tinyproxy (HTTP proxy with Basic auth) -> nginx: CONNECT localhost:8443 with a planted Proxy-Authorization in clear, then TLS 1.3 through the tunnel (key log) carrying a POST with a planted bearer token. Captured between client and proxy."
  expect status.0 ok; expect findings.0 ""
  expect http_detail yes
  secrets "$(b64 "$PROXY_USER:$PROXY_PASS")"
  secrets_hidden "$PROXY_USER" "$PROXY_PASS" "$PL_BEARER"
  mkdir -p "$RUN/tinyproxy"
  cat > "$RUN/tinyproxy/tinyproxy.conf" <<EOF4
User nobody
Group nogroup
Port 8446
Listen 127.0.0.1
Timeout 15
MaxClients 8
Allow 127.0.0.1
BasicAuth $PROXY_USER $PROXY_PASS
ConnectPort 8443
LogLevel Info
EOF4
  srv tinyproxy -d -c "$RUN/tinyproxy/tinyproxy.conf"
  CURL --cacert "$R" --proxy http://127.0.0.1:8446 --proxy-user "$PROXY_USER:$PROXY_PASS" \
    -H "Authorization: Bearer $PL_BEARER" -d '{"a":1}' https://localhost:8443/api/v1/records
  finish
}
sc_proxy_connect_407() {
  begin proxy-connect-407 8447 "curl -> tinyproxy (HTTP proxy with Basic auth) without proxy credentials: CONNECT localhost:8443 answered 407 Proxy Authentication Required (Proxy-Authenticate: Basic); no TLS follows."
  expect status.0 refused; expect findings.0 "proxy-refused"
  mkdir -p "$RUN/tinyproxy407"
  cat > "$RUN/tinyproxy407/tinyproxy.conf" <<EOF4
User nobody
Group nogroup
Port 8447
Listen 127.0.0.1
Timeout 15
MaxClients 8
Allow 127.0.0.1
BasicAuth $PROXY_USER $PROXY_PASS
ConnectPort 8443
LogLevel Info
EOF4
  srv tinyproxy -d -c "$RUN/tinyproxy407/tinyproxy.conf"
  CURL --cacert "$R" --proxy http://127.0.0.1:8447 https://localhost:8443/api/v1/records
  finish
}

# ---------------------------------------------------------------- client certificates refused
# A server that requires a client certificate and refuses the one it gets. OpenSSL s_server says
# why in a fatal alert; nginx completes the handshake and answers HTTP 400 (key log needed).
nginx_own() {   # nginx_own NAME CONF-FILE: a private nginx for one scenario (stopped by finish)
  local d=$RUN/nginx-$1; mkdir -p "$d/tmp"
  srv nginx -c "$2" -e "$d/nginx.err"
}
sc_client_cert_wrong_ca() {
  begin client-cert-wrong-ca 8450 "TLS 1.2, nginx ssl_verify_client on with ssl_client_certificate = tlscap Test Root CA + Intermediate; curl presents 'tlscap other client' issued by 'tlscap Other Intermediate' (another hierarchy). nginx completes the handshake and answers HTTP 400 (The SSL certificate error), visible with the key log."
  expect status.0 ok; expect findings.0 "client-cert-rejected"
  local d=$RUN/nginx-wrong-ca; mkdir -p "$d/tmp"
  cat > "$d/nginx.conf" <<EOF5
user root;
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/nginx.err warn;
events { worker_connections 16; }
http {
  access_log off;
  client_body_temp_path $d/tmp;
  default_type text/plain;
  server {
    listen 127.0.0.1:8450 ssl;
    server_name api.tlscap.test;
    ssl_protocols TLSv1.2;
    ssl_certificate $PKI/server-fullchain.pem;
    ssl_certificate_key $PKI/server.key;
    ssl_verify_client on;
    ssl_client_certificate $PKI/ca-bundle.pem;
    location / { return 200 "hello\n"; }
  }
}
EOF5
  nginx_own wrong-ca "$d/nginx.conf"
  CURL --cacert "$R" --resolve api.tlscap.test:8450:127.0.0.1 \
    --cert "$PKI/other-client.pem" --key "$PKI/other-client.key" https://api.tlscap.test:8450/
  finish
}
sc_client_cert_no_client_auth() {
  begin client-cert-no-client-auth 8451 "TLS 1.2, s_server requires a client certificate (-Verify 1, CAs tlscap Test Root + Intermediate); the client presents the server certificate api.tlscap.test (extendedKeyUsage serverAuth only) + intermediate; the server (-verify_return_error) aborts with alert unsupported_certificate in clear."
  expect status.0 alert; expect findings.0 "client-cert-rejected tls-alert"
  srv "${SSRV[@]}" -accept 8451 -tls1_2 -Verify 1 -CAfile "$PKI/ca-bundle.pem" -verify_return_error
  INPUT=$GET SC 8451 -tls1_2 -servername api.tlscap.test "${VERIFY[@]}" \
    -cert "$PKI/server.pem" -key "$PKI/server.key" -cert_chain "$PKI/intermediate.pem"
  finish
}
sc_client_cert_expired() {
  begin client-cert-expired 8452 "TLS 1.2, s_server requires a client certificate; the client presents 'tlscap expired client' (valid 2020-01-01..2021-01-01) + intermediate; the server (-verify_return_error) aborts with alert certificate_expired in clear."
  expect status.0 alert; expect findings.0 "client-cert-rejected tls-alert"
  srv "${SSRV[@]}" -accept 8452 -tls1_2 -Verify 1 -CAfile "$PKI/ca-bundle.pem" -verify_return_error
  INPUT=$GET SC 8452 -tls1_2 -servername api.tlscap.test "${VERIFY[@]}" \
    -cert "$PKI/client-expired.pem" -key "$PKI/client-expired.key" -cert_chain "$PKI/intermediate.pem"
  finish
}
sc_client_cert_wrong_ca_tls13() {
  begin client-cert-wrong-ca-tls13 8453 "TLS 1.3, s_server requires a client certificate (CAs tlscap Test Root + Intermediate, listed in certificate_authorities); the client presents 'tlscap other client' + 'tlscap Other Intermediate'; the server's fatal alert unknown_ca is encrypted (visible with the key log)."
  expect status.0 alert; expect findings.0 "client-cert-rejected tls-alert"
  srv "${SSRV[@]}" -accept 8453 -tls1_3 -Verify 1 -CAfile "$PKI/ca-bundle.pem" -verify_return_error
  INPUT=$GET SC 8453 -tls1_3 -servername api.tlscap.test "${VERIFY[@]}" \
    -cert "$PKI/other-client.pem" -key "$PKI/other-client.key" -cert_chain "$PKI/other-intermediate.pem"
  finish
}
sc_client_cert_leaf_only() {
  begin client-cert-leaf-only 8448 "TLS 1.2, s_server requires a client certificate and trusts only tlscap Test Root CA (-CAfile root.pem, -verify_return_error); the client sends 'tlscap test client' without its intermediate; the server cannot build the path and aborts with alert unknown_ca in clear."
  expect status.0 alert; expect findings.0 "client-cert-rejected tls-alert"
  srv "${SSRV[@]}" -accept 8448 -tls1_2 -Verify 1 -CAfile "$R" -verify_return_error
  INPUT=$GET SC 8448 -tls1_2 -servername api.tlscap.test "${VERIFY[@]}" \
    -cert "$PKI/client.pem" -key "$PKI/client.key"
  finish
}
sc_client_cert_optional_none() {
  begin client-cert-optional-none 8449 "TLS 1.2, s_server asks for a client certificate without requiring one (-verify 1); the client has none, sends an empty Certificate, and the request succeeds (healthy optional client authentication)."
  expect status.0 ok; expect findings.0 ""
  srv "${SSRV[@]}" -accept 8449 -tls1_2 -verify 1 -CAfile "$PKI/ca-bundle.pem"
  INPUT=$GET SC 8449 -tls1_2 -servername api.tlscap.test "${VERIFY[@]}"
  finish
}

# ---------------------------------------------------------------- one name, several chains
haproxy_pool() {  # haproxy_pool PORT BACKEND-PORT...: TCP mode, round robin
  local port=$1; shift; local d=$RUN/haproxy-$port; mkdir -p "$d"
  { printf 'global\n  log stderr format raw local0 warning\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n'
    printf 'frontend fe\n  bind 127.0.0.1:%s\n  default_backend pool\nbackend pool\n  balance roundrobin\n' "$port"
    local b; for b in "$@"; do printf '  server s%s 127.0.0.1:%s\n' "$b" "$b"; done; } > "$d/haproxy.cfg"
  srv haproxy -db -f "$d/haproxy.cfg"
}
backend() {       # backend PORT S_SERVER-ARGS...: an s_server behind the pool (not captured)
  local port=$1; shift
  meta server "$(shq openssl s_server -WWW -cert "$PKI/server.pem" -key "$PKI/server.key" -accept "$port" "$@")"
  (cd "$RUN/www" && exec "${NX[@]}" openssl s_server -WWW -cert "$PKI/server.pem" -key "$PKI/server.key" \
      -accept "$port" "$@" < /dev/null >> "$RUN/$CUR.server.log" 2>&1) &
  SPIDS+=($!); listening "$port"
}
sc_cert_inconsistent_pool() {
  begin cert-inconsistent-pool 8454 "TLS 1.2 (curl --tls-max 1.2) through haproxy (TCP mode, round robin) in front of two s_server backends for api.tlscap.test: 8455 sends leaf + intermediate, 8456 sends its leaf only. Four curl connections (captured between curl and haproxy): 0 and 2 reach 8455 and succeed, 1 and 3 reach 8456 and curl aborts with unknown_ca."
  expect status.0 ok; expect findings.0 "cert-inconsistent"
  expect status.1 alert; expect findings.1 "cert-inconsistent chain-incomplete tcp-reset tls-alert"
  expect status.2 ok; expect findings.2 "cert-inconsistent"
  expect status.3 alert; expect findings.3 "cert-inconsistent chain-incomplete tcp-reset tls-alert"
  backend 8455 -cert_chain "$PKI/intermediate.pem"
  backend 8456
  haproxy_pool 8454 8455 8456
  local i; for i in 1 2 3 4; do
    CURL --tls-max 1.2 --cacert "$R" --resolve api.tlscap.test:8454:127.0.0.1 https://api.tlscap.test:8454/hello.txt
  done
  finish
  # TLS 1.2: the chains are in clear. curl logs no secret for the connections it refuses, so a
  # key log would cover only half of them; none is kept.
  rm -f "$S/$CUR.keys"
}
sc_cert_consistent_pool() {
  begin cert-consistent-pool 8457 "TLS 1.2 (curl --tls-max 1.2) through haproxy (TCP mode, round robin) in front of two s_server backends that both send leaf + intermediate: three curl connections get the same chain and succeed (healthy look-alike of cert-inconsistent-pool)."
  expect status.0 ok; expect findings.0 ""
  expect status.1 ok; expect findings.1 ""
  expect status.2 ok; expect findings.2 ""
  backend 8458 -cert_chain "$PKI/intermediate.pem"
  backend 8459 -cert_chain "$PKI/intermediate.pem"
  haproxy_pool 8457 8458 8459
  local i; for i in 1 2 3; do
    CURL --tls-max 1.2 --cacert "$R" --resolve api.tlscap.test:8457:127.0.0.1 https://api.tlscap.test:8457/hello.txt
  done
  finish
}

# A gRPC-style client: offers only h2 and closes (close_notify, no request) when the server
# selects no protocol.
H2_ONLY_CLIENT='import socket,ssl,sys
c=ssl.create_default_context(cafile=sys.argv[2]); c.set_alpn_protocols(["h2"]); c.maximum_version=ssl.TLSVersion.TLSv1_2
s=c.wrap_socket(socket.create_connection(("127.0.0.1",int(sys.argv[1]))),server_hostname="api.tlscap.test")
p=s.selected_alpn_protocol(); print("alpn", p)
s.unwrap() if p is None else s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"); s.close()'
sc_no_common_version() {
  begin no-common-version 8471 "s_server accepts TLS 1.3 only. Connection 0: s_client -tls1_3 succeeds (TLS 1.3). Connection 1: curl --tls-max 1.2 (offers at most TLS 1.2) is refused with alert protocol_version. Connection 2: s_client -tls1_1 (SECLEVEL=0) is refused the same way."
  expect status.0 ok; expect findings.0 ""
  expect status.1 alert; expect findings.1 "no-common-version tls-alert"
  expect status.2 alert; expect findings.2 "no-common-version tls-alert"
  srv "${SSRV[@]}" -accept 8471 -tls1_3
  INPUT=$GET SC 8471 -tls1_3 -servername api.tlscap.test "${VERIFY[@]}"
  CURL --tls-max 1.2 --cacert "$R" --resolve api.tlscap.test:8471:127.0.0.1 https://api.tlscap.test:8471/hello.txt
  INPUT=$GET SC 8471 -tls1_1 -cipher DEFAULT@SECLEVEL=0 -servername api.tlscap.test "${VERIFY[@]}"
  finish
}
sc_no_common_version_old_server() {
  begin no-common-version-old-server 8472 "s_server speaks TLS 1.0 only (SECLEVEL=0). Connection 0: s_client -tls1 (SECLEVEL=0) succeeds with TLS 1.0. Connection 1: s_client -tls1_2 (TLS 1.2 only) gets a TLS 1.0 ServerHello and aborts with alert protocol_version."
  expect status.0 ok; expect findings.0 "obsolete-version"
  expect status.1 alert; expect findings.1 "no-common-version tls-alert obsolete-version"
  srv "${SSRV[@]}" -accept 8472 -tls1 -cipher DEFAULT@SECLEVEL=0
  INPUT=$GET SC 8472 -tls1 -cipher DEFAULT@SECLEVEL=0 -servername api.tlscap.test "${VERIFY[@]}"
  INPUT=$GET SC 8472 -tls1_2 -servername api.tlscap.test "${VERIFY[@]}"
  finish
}
sc_no_common_version_reset() {
  begin no-common-version-reset 8476 "A server that resets clients offering nothing newer than TLS 1.1, as Windows SChannel does (samples/tools/versiongate.py: Python ssl after a peek at the ClientHello). Connection 0: curl (TLS 1.3) succeeds. Connection 1: s_client -tls1 (SECLEVEL=0) offers at most TLS 1.0 and is reset right after its ClientHello, without a byte of TLS."
  expect status.0 ok; expect findings.0 ""
  expect status.1 reset; expect findings.1 "no-common-version tcp-reset"
  srv python3 "$S/tools/versiongate.py" 127.0.0.1 8476 "$PKI/server-fullchain.pem" "$PKI/server.key"
  CURL --cacert "$R" --resolve api.tlscap.test:8476:127.0.0.1 https://api.tlscap.test:8476/
  INPUT=$GET SC 8476 -tls1 -cipher DEFAULT@SECLEVEL=0 -servername api.tlscap.test "${VERIFY[@]}"
  finish
}
sc_no_common_cipher() {
  begin no-common-cipher 8473 "s_server, TLS 1.2 only, suites ECDHE-RSA-AES128-GCM-SHA256 and ECDHE-RSA-AES256-GCM-SHA384 only. Connection 0: s_client (default suites) succeeds. Connection 1: s_client offering only AES128-SHA, AES256-SHA, AES128-SHA256 (RSA key exchange, CBC) is refused with alert handshake_failure. Connection 2: s_client offering only ECDHE-RSA-CHACHA20-POLY1305 (a sound suite this server lacks) is refused the same way. Connection 3: s_client offering AES128-SHA first, then ECDHE-RSA-AES128-GCM-SHA256, succeeds with the latter (the server simply picks another suite)."
  expect status.0 ok; expect findings.0 ""
  expect status.1 alert; expect findings.1 "no-common-cipher tls-alert"
  expect status.2 alert; expect findings.2 "no-common-cipher tls-alert"
  expect status.3 ok; expect findings.3 ""
  srv "${SSRV[@]}" -accept 8473 -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384
  INPUT=$GET SC 8473 -tls1_2 -servername api.tlscap.test "${VERIFY[@]}"
  INPUT=$GET SC 8473 -tls1_2 -cipher AES128-SHA:AES256-SHA:AES128-SHA256 -servername api.tlscap.test "${VERIFY[@]}"
  INPUT=$GET SC 8473 -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305 -servername api.tlscap.test "${VERIFY[@]}"
  INPUT=$GET SC 8473 -tls1_2 -cipher AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256 -servername api.tlscap.test "${VERIFY[@]}"
  finish
}
sc_alpn_mismatch() {
  begin alpn-mismatch 8474 "nginx without http2 on this port. Connection 0: s_client -alpn h2 (h2 only) is refused with alert no_application_protocol. Connection 1: curl --http2 (offers h2 and http/1.1) gets http/1.1 and HTTP 200."
  expect status.0 alert; expect findings.0 "alpn-mismatch tls-alert"
  expect status.1 ok; expect findings.1 ""
  listening 8474
  INPUT=$GET SC 8474 -alpn h2 -servername api.tlscap.test "${VERIFY[@]}"
  CURL --http2 --cacert "$R" --resolve api.tlscap.test:8474:127.0.0.1 https://api.tlscap.test:8474/
  finish
}
sc_alpn_h2_none() {
  begin alpn-h2-none 8475 "s_server, TLS 1.2, no ALPN configured. Connection 0: a gRPC-style Python client offering only h2 gets no ALPN in the ServerHello and closes (close_notify) without sending a request. Connection 1: curl --http2 (offers h2 and http/1.1) gets no ALPN, falls back to HTTP/1.1 and succeeds."
  expect status.0 ok; expect findings.0 "alpn-mismatch"
  expect status.1 ok; expect findings.1 ""
  srv "${SSRV[@]}" -accept 8475 -tls1_2
  cli 10 env SSLKEYLOGFILE="$S/$CUR.keys" python3 -c "$H2_ONLY_CLIENT" 8475 "$R"
  CURL --http2 --tls-max 1.2 --cacert "$R" --resolve api.tlscap.test:8475:127.0.0.1 https://api.tlscap.test:8475/hello.txt
  finish
}

# ---------------------------------------------------------------- healthy look-alikes
sc_client_cert_resumed() {
  begin client-cert-resumed 8490 "s_server requires a client certificate (-Verify 1). Connection 0: TLS 1.2 full handshake, the client sends its certificate, the session is saved (-sess_out). Connection 1: TLS 1.2 resumption of that session (abbreviated handshake: no CertificateRequest, no certificates). Connections 2 and 3: the same with TLS 1.3 (the resumed handshake uses the session ticket's PSK and carries no CertificateRequest). All four succeed (healthy look-alike of client-cert-not-requested)."
  expect status.0 ok; expect findings.0 ""; expect status.1 ok; expect findings.1 ""
  expect status.2 ok; expect findings.2 ""; expect status.3 ok; expect findings.3 ""
  srv "${SSRV[@]}" -accept 8490 -Verify 1 -CAfile "$PKI/ca-bundle.pem" -verify_return_error
  local v; for v in -tls1_2 -tls1_3; do
    INPUT=$GET SC 8490 "$v" -servername api.tlscap.test "${VERIFY[@]}" \
      -cert "$PKI/client.pem" -key "$PKI/client.key" -sess_out "$RUN/sess$v.pem"
    INPUT=$GET SC 8490 "$v" -servername api.tlscap.test "${VERIFY[@]}" -sess_in "$RUN/sess$v.pem"
  done
  finish
}
sc_cipher_server_preference() {
  begin cipher-server-preference 8491 "s_server with its own preference order (-serverpref): TLS 1.2 suites ECDHE-RSA-AES256-GCM-SHA384 then ECDHE-RSA-AES128-GCM-SHA256, TLS 1.3 suites TLS_AES_256_GCM_SHA384 then TLS_CHACHA20_POLY1305_SHA256. Connection 0: TLS 1.2 client preferring AES128-GCM gets AES256-GCM. Connection 1: TLS 1.2 client offering ChaCha20 first and AES128-GCM gets AES128-GCM. Connection 2: TLS 1.3 client preferring ChaCha20 gets AES-256-GCM. Connection 3: TLS 1.3 client offering only ChaCha20 gets it. All succeed (healthy look-alike of no-common-cipher)."
  expect status.0 ok; expect findings.0 ""; expect status.1 ok; expect findings.1 ""
  expect status.2 ok; expect findings.2 ""; expect status.3 ok; expect findings.3 ""
  srv "${SSRV[@]}" -accept 8491 -serverpref -cipher ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256 \
    -ciphersuites TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
  INPUT=$GET SC 8491 -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384 -servername api.tlscap.test "${VERIFY[@]}"
  INPUT=$GET SC 8491 -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256 -servername api.tlscap.test "${VERIFY[@]}"
  INPUT=$GET SC 8491 -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384 -servername api.tlscap.test "${VERIFY[@]}"
  INPUT=$GET SC 8491 -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256 -servername api.tlscap.test "${VERIFY[@]}"
  finish
}
sc_client_cert_optional_nginx() {
  begin client-cert-optional-nginx 8492 "nginx with ssl_verify_client optional, answering HTTP 200 with or without a client certificate. Connection 0: curl TLS 1.2 without a certificate (empty Certificate) gets 200. Connection 1: curl TLS 1.3 without a certificate gets 200. Connection 2: curl TLS 1.3 with the client certificate gets 200 (healthy look-alikes of client-cert-missing)."
  expect status.0 ok; expect findings.0 ""; expect status.1 ok; expect findings.1 ""
  expect status.2 ok; expect findings.2 ""
  listening 8492
  CURL --tls-max 1.2 --cacert "$R" --resolve api.tlscap.test:8492:127.0.0.1 https://api.tlscap.test:8492/
  CURL --tlsv1.3 --cacert "$R" --resolve api.tlscap.test:8492:127.0.0.1 https://api.tlscap.test:8492/
  CURL --tlsv1.3 --cacert "$R" --cert "$PKI/client.pem" --key "$PKI/client.key" \
    --resolve api.tlscap.test:8492:127.0.0.1 https://api.tlscap.test:8492/
  finish
}

# ---------------------------------------------------------------- TLS 1.3 groups and signatures
sc_no_common_group() {
  begin no-common-group 8493 "s_server, TLS 1.3 only, key exchange group X25519 only (-groups X25519). Connection 0: s_client -groups X25519 succeeds. Connection 1: s_client -groups P-256 (supported_groups and key share P-256 only) is refused with alert handshake_failure right after its ClientHello. Connection 2: s_client -groups P-256:P-384 is refused the same way."
  expect status.0 ok; expect findings.0 ""
  expect status.1 alert; expect findings.1 "no-common-group tls-alert"
  expect status.2 alert; expect findings.2 "no-common-group tls-alert"
  srv "${SSRV[@]}" -accept 8493 -tls1_3 -groups X25519
  INPUT=$GET SC 8493 -tls1_3 -groups X25519 -servername api.tlscap.test "${VERIFY[@]}"
  INPUT=$GET SC 8493 -tls1_3 -groups P-256 -servername api.tlscap.test "${VERIFY[@]}"
  INPUT=$GET SC 8493 -tls1_3 -groups P-256:P-384 -servername api.tlscap.test "${VERIFY[@]}"
  finish
}
sc_no_common_sigalg() {
  begin no-common-sigalg 8494 "s_server with an ECDSA P-256 certificate only (pki/ecdsa-server.pem). Connection 0: s_client (default signature algorithms) succeeds with TLS 1.3. Connection 1: s_client -tls1_2 succeeds with an ECDHE-ECDSA suite (which shows the key type without the key log). Connection 2: s_client -tls1_3 -sigalgs RSA-PSS+SHA256:RSA+SHA256 (RSA only) is refused with alert handshake_failure right after its ClientHello. Connection 3: the same client with -tls1_2 is refused the same way (no ECDSA suite is usable)."
  expect status.0 ok; expect findings.0 ""; expect status.1 ok; expect findings.1 ""
  expect status.2 alert; expect findings.2 "no-common-sigalg tls-alert"
  expect status.3 alert; expect findings.3 "no-common-sigalg tls-alert"
  srv openssl s_server -WWW -cert "$PKI/ecdsa-server.pem" -key "$PKI/ecdsa-server.key" \
    -cert_chain "$PKI/intermediate.pem" -accept 8494
  INPUT=$GET SC 8494 -servername api.tlscap.test "${VERIFY[@]}"
  INPUT=$GET SC 8494 -tls1_2 -servername api.tlscap.test "${VERIFY[@]}"
  INPUT=$GET SC 8494 -tls1_3 -sigalgs RSA-PSS+SHA256:RSA+SHA256 -servername api.tlscap.test "${VERIFY[@]}"
  INPUT=$GET SC 8494 -tls1_2 -sigalgs RSA-PSS+SHA256:RSA+SHA256 -servername api.tlscap.test "${VERIFY[@]}"
  finish
}

ALL=(tls13-curl-sni tls12-openssl-sni tls12-no-sni tls12-mtls-cert-sent tls12-mtls-no-cert
     tls13-mtls-cert-sent tls13-mtls-no-cert tls12-chain-intermediate tls12-leaf-only
     tls12-alert-unknown-ca ipv6-tls13 sni-gated-client-auth concurrent-clients
     tcp-connect-timeout tcp-refused tcp-reset-midway tcp-reset-after-handshake tcp-reset-after-close-notify handshake-stalled read-timeout not-tls no-client-hello
     cert-expired cert-not-yet-valid cert-wrong-host cert-self-signed cert-weak-signature-sha1
     cert-weak-key-rsa1024 chain-untrusted chain-order cert-revoked-ocsp cert-revoked-crl
     obsolete-tls10 weak-cipher-null tls13-hello-retry tls12-resumption tls13-http-401-200
     http-cleartext-credentials https-hmac-query https-bearer-post-200 https-password-get
     ftp-login smtp-auth imap-login pop3-login https-planted-secrets not-tls-set-cookie http-to-tls-port
     proxy-connect-auth proxy-connect-407
     client-cert-wrong-ca client-cert-no-client-auth client-cert-expired client-cert-wrong-ca-tls13
     client-cert-optional-none client-cert-leaf-only cert-inconsistent-pool cert-consistent-pool
     no-common-version no-common-version-old-server no-common-version-reset no-common-cipher
     alpn-mismatch alpn-h2-none
     client-cert-resumed cipher-server-preference client-cert-optional-nginx
     no-common-group no-common-sigalg capture-handshakes-only)
printf '%s\n' "${ALL[@]}" > "$S/meta/ORDER"
t0=$(date +%s)
for name in "${ALL[@]}"; do
  if want "$name"; then "sc_${name//-/_}"; fi
done
echo "scenarios took $(( $(date +%s) - t0 )) s"

# ---------------------------------------------------------------- other container formats
if want tls13-curl-sni; then gzip -9 -n -c "$S/tls13-curl-sni.pcap" > "$S/tls13-curl-sni.pcap.gz"; fi
if want sni-gated-client-auth; then
  editcap -F pcapng "$S/sni-gated-client-auth.pcap" "$S/multi.pcapng"
  rm -f "$S/multi.keys"; cp "$S/sni-gated-client-auth.keys" "$S/multi.keys"
fi

# ---------------------------------------------------------------- ground truth
python3 "$S/tools/groundtruth.py" "$S"
du -sh "$S"
