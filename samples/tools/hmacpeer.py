#!/usr/bin/env python3
"""hmacpeer.py -- a tiny HMAC-checking API server and a client that signs requests, for the
HMAC samples (samples/make_hmac_samples.sh). Python standard library only.

  hmacpeer.py server HOST PORT [CERT KEY]
  hmacpeer.py client HOST PORT [--tls KEYLOG]
  hmacpeer.py chunked HOST PORT KEYLOG      (TLS; bodies sent with Transfer-Encoding: chunked)

The API (ServiceNow style): POST /api/v1/records with headers x-sn-hmac-key-id,
x-sn-hmac-timestamp (epoch seconds) and x-sn-hmac-signature-256 = base64(HMAC-SHA256(secret,
timestamp + body)); the three may travel as query parameters instead. The server answers 200
when the key id is known, the timestamp is within 300 s of its clock and the signature matches;
401 otherwise. It reads Content-Length and chunked bodies.

The client opens one connection per case, in this order:
  good         correct signature in the header                              -> 200
  wrong-length HMAC-SHA512 (64 bytes) under the -256 header                 -> 401
  in-query     correct signature, key id and timestamp in the query string  -> 200
  clock-skew   correct signature over a timestamp one hour old              -> 401
  wrong-form   signature over the body alone (timestamp left out)           -> 401
TEST SECRET ONLY: key id k1, secret tlscap-sample-hmac-secret.
"""
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import ssl
import sys
import time
import urllib.parse

KEYS = {"k1": b"tlscap-sample-hmac-secret"}
WINDOW = 300


def sign(secret, parts, digest=hashlib.sha256):
    return base64.b64encode(hmac.new(secret, b"".join(parts), digest).digest()).decode()


def signature_ok(get, body):
    """Whether the request's x-sn-hmac headers (or query parameters; `get` looks a name up)
    sign timestamp + body with a known key, within WINDOW of now."""
    key, stamp, sig = (
        get("x-sn-hmac-key-id"),
        get("x-sn-hmac-timestamp"),
        get("x-sn-hmac-signature-256"),
    )
    return (
        key in KEYS
        and stamp is not None
        and stamp.isdigit()
        and abs(int(stamp) - time.time()) <= WINDOW
        and sig is not None
        and hmac.compare_digest(sig, sign(KEYS[key], [stamp.encode(), body]))
    )


class Api(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def read_body(self):
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            return self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return body
            body += self.rfile.read(size)
            self.rfile.readline()

    def do_POST(self):
        body = self.read_body()
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))

        def get(name):
            return self.headers.get(name) or query.get(name)

        ok = signature_ok(get, body)
        status, answer = (200, b'{"result":"ok"}\n') if ok else (401, b'{"error":"invalid signature"}\n')
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer)
        self.close_connection = True


def server(host, port, cert=None, key=None):
    httpd = http.server.HTTPServer((host, int(port)), Api)
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    httpd.serve_forever()


class SniHTTPS(http.client.HTTPSConnection):
    """Connects to an address but names the API's host in SNI."""

    def connect(self):
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(self.sock, server_hostname="api.tlscap.test")


def large_body(records=1000):
    """About 80 KB of JSON: more than the 64 KiB tlscap keeps to recompute a signature over."""
    rows = [{"number": f"INC{n:07d}", "short_description": "printer on fire", "urgency": 1 + n % 3}
            for n in range(records)]
    return json.dumps({"records": rows}).encode()


def chunked_client(host, port, keylog):
    """Three requests whose body travels in chunks (Transfer-Encoding: chunked):
    good         three chunks, signature over timestamp + body                        -> 200
    wrong-order  the same body, signature over body + timestamp (no usual form)       -> 401
    large        about 80 KB in two chunks, signed over body + timestamp              -> 401"""
    secret = KEYS["k1"]
    text = json.dumps({"short_description": "printer on fire", "urgency": 1}).encode()
    small = [text[:20], text[20:], b"\n"]
    big = large_body()
    large = [big[:40000], big[40000:]]
    now = str(int(time.time()))
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.keylog_filename = keylog
    for name, parts, order in [("good", small, 0), ("wrong-order", small, 1), ("large", large, 1)]:
        body = b"".join(parts)
        signed = [now.encode(), body] if order == 0 else [body, now.encode()]
        headers = {"Content-Type": "application/json", "Host": "api.tlscap.test", "x-sn-hmac-key-id": "k1",
                   "x-sn-hmac-timestamp": now, "x-sn-hmac-signature-256": sign(secret, signed)}
        conn = SniHTTPS(host, int(port), context=ctx, timeout=5)
        conn.request("POST", "/api/v1/records", body=iter(parts), headers=headers, encode_chunked=True)
        resp = conn.getresponse()
        resp.read()
        print(f"chunked {name}: {resp.status} ({len(body)} bytes)")
        conn.close()
        time.sleep(0.2)


def client(host, port, keylog=None):
    secret = KEYS["k1"]
    body = json.dumps({"short_description": "printer on fire", "urgency": 1}).encode()
    cases = []
    now = str(int(time.time()))
    good = sign(secret, [now.encode(), body])
    cases.append(("good", "/api/v1/records", {"x-sn-hmac-signature-256": good, "x-sn-hmac-timestamp": now}))
    long = sign(secret, [now.encode(), body], hashlib.sha512)
    cases.append(("wrong-length", "/api/v1/records", {"x-sn-hmac-signature-256": long, "x-sn-hmac-timestamp": now}))
    q = urllib.parse.urlencode({"x-sn-hmac-key-id": "k1", "x-sn-hmac-timestamp": now, "x-sn-hmac-signature-256": good})
    cases.append(("in-query", "/api/v1/records?" + q, {}))
    old = str(int(time.time()) - 3600)
    cases.append(("clock-skew", "/api/v1/records", {"x-sn-hmac-signature-256": sign(secret, [old.encode(), body]), "x-sn-hmac-timestamp": old}))
    cases.append(("wrong-form", "/api/v1/records", {"x-sn-hmac-signature-256": sign(secret, [body]), "x-sn-hmac-timestamp": now}))
    ctx = None
    if keylog:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.keylog_filename = keylog
    for name, path, extra in cases:
        headers = {"Content-Type": "application/json", "Host": "api.tlscap.test"}
        if "?" not in path:
            headers["x-sn-hmac-key-id"] = "k1"
        headers.update(extra)
        if ctx:
            conn = SniHTTPS(host, int(port), context=ctx, timeout=5)
        else:
            conn = http.client.HTTPConnection(host, int(port), timeout=5)
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        print(f"{name}: {resp.status}")
        conn.close()
        time.sleep(0.2)


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "server":
        server(*a[1:])
    elif a[0] == "chunked":
        chunked_client(a[1], a[2], a[3])
    elif len(a) > 3 and a[3] == "--tls":
        client(a[1], a[2], a[4])
    else:
        client(a[1], a[2])
