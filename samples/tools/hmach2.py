#!/usr/bin/env python3
"""hmach2.py -- the HMAC samples' API over HTTP/2: a server on the `h2` library (PyPI: h2) that
checks the signatures like hmacpeer.py, and a client that signs and sends with curl --http2.

  hmach2.py server HOST PORT CERT KEY
  hmach2.py client HOST PORT KEYLOG

TLS with ALPN h2 only. The API is hmacpeer.py's: POST /api/v1/records, x-sn-hmac-key-id,
x-sn-hmac-timestamp and x-sn-hmac-signature-256 = base64(HMAC-SHA256(secret, timestamp +
body)); 200 when it checks out, 401 otherwise. The body (24,013 bytes of JSON) is larger than
one HTTP/2 DATA frame (16 KB), so it travels in two; the large case's 80,013 bytes in five.

The client opens one connection per case, in this order:
  good         signature over timestamp + body                    -> 200
  wrong-order  signature over body + timestamp (no usual form)    -> 401
  large        about 80 KB (more than tlscap keeps), body + timestamp -> 401
TEST SECRET ONLY: key id k1, secret tlscap-sample-hmac-secret.
"""
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import h2.config
import h2.connection
import h2.events

from hmacpeer import KEYS, large_body, sign, signature_ok


def check(headers, body):
    return signature_ok(headers.get, body)


def serve_one(sock):
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    streams = {}
    while True:
        data = sock.recv(65536)
        if not data:
            return
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.RequestReceived):
                streams[ev.stream_id] = (
                    {k.decode(): v.decode() for k, v in ev.headers},
                    bytearray(),
                )
            elif isinstance(ev, h2.events.DataReceived):
                streams[ev.stream_id][1].extend(ev.data)
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                headers, body = streams.pop(ev.stream_id)
                ok = check(headers, bytes(body))
                status, answer = (
                    (b"200", b'{"result":"ok"}\n') if ok else (b"401", b'{"error":"invalid signature"}\n')
                )
                conn.send_headers(
                    ev.stream_id,
                    [(b":status", status), (b"content-type", b"application/json"),
                     (b"content-length", str(len(answer)).encode())],
                )
                conn.send_data(ev.stream_id, answer, end_stream=True)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                sock.sendall(conn.data_to_send())
                return
        sock.sendall(conn.data_to_send())


def server(host, port, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["h2"])
    # curl closes without a close_notify: OpenSSL 3 would answer that EOF with a fatal
    # decode_error alert, which servers such as nginx do not send.
    ctx.options |= ssl.OP_IGNORE_UNEXPECTED_EOF
    lsock = socket.create_server((host, int(port)))
    while True:
        raw, _ = lsock.accept()
        try:
            with ctx.wrap_socket(raw, server_side=True) as sock:
                serve_one(sock)
        except (ssl.SSLError, OSError):
            pass


def client(host, port, keylog):
    secret = KEYS["k1"]
    now = str(int(time.time()))
    env = dict(os.environ, SSLKEYLOGFILE=keylog)
    body = large_body(300)
    cases = [
        ("good", body, sign(secret, [now.encode(), body])),
        ("wrong-order", body, sign(secret, [body, now.encode()])),
    ]
    big = large_body()
    cases.append(("large", big, sign(secret, [big, now.encode()])))
    for name, data, sig in cases:
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            f.write(data)
            f.flush()
            out = subprocess.run(
                ["curl", "-sk", "--http2", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}",
                 "--resolve", f"api.tlscap.test:{port}:{host}",
                 "-H", "Content-Type: application/json", "-H", "x-sn-hmac-key-id: k1",
                 "-H", f"x-sn-hmac-timestamp: {now}", "-H", f"x-sn-hmac-signature-256: {sig}",
                 "--data-binary", f"@{f.name}", f"https://api.tlscap.test:{port}/api/v1/records"],
                env=env, capture_output=True, text=True, check=False,
            )
        print(f"h2 {name}: {out.stdout} ({len(data)} bytes)")
        time.sleep(0.2)


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "server":
        server(*a[1:])
    else:
        client(*a[1:])
