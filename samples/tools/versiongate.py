#!/usr/bin/env python3
"""A TLS server that resets clients offering nothing newer than TLS 1.1, as Windows SChannel
(IIS) does once TLS 1.0/1.1 are disabled, for make_samples.sh (loopback only).

usage: versiongate.py ADDR PORT CHAIN_PEM KEY_PEM

Each connection's ClientHello is peeked at (MSG_PEEK, nothing consumed): if its highest
version (supported_versions, else client_version) is below TLS 1.2 the connection is aborted
with RST before any byte is sent; otherwise Python's ssl (OpenSSL) completes the handshake on
the untouched stream and answers one HTTP request.
"""
import socket
import ssl
import struct
import sys
import time


def peek_hello(conn):
    """The first TLS record (the ClientHello), peeked, not consumed."""
    need, data = 5, b""
    deadline = time.time() + 5
    while len(data) < need and time.time() < deadline:
        data = conn.recv(65536, socket.MSG_PEEK)
        if len(data) >= 5:
            need = 5 + struct.unpack("!H", data[3:5])[0]
        if len(data) < need:
            time.sleep(0.01)
    return data


def highest_version(record):
    """supported_versions' highest (GREASE skipped), else the ClientHello's client_version."""
    body = record[5 + 4:]
    legacy = struct.unpack("!H", body[0:2])[0]
    p = 2 + 32
    p += 1 + body[p]                                         # session id
    p += 2 + struct.unpack("!H", body[p:p + 2])[0]            # cipher suites
    p += 1 + body[p]                                         # compression methods
    if p + 2 > len(body):
        return legacy
    end = p + 2 + struct.unpack("!H", body[p:p + 2])[0]
    p += 2
    while p + 4 <= end:
        typ, length = struct.unpack("!HH", body[p:p + 4])
        if typ == 43:
            vs = body[p + 5:p + 4 + length]
            real = [struct.unpack("!H", vs[i:i + 2])[0] for i in range(0, len(vs), 2)]
            real = [v for v in real if v & 0x0f0f != 0x0a0a]
            if real:
                return max(real)
        p += 4 + length
    return legacy


def main():
    addr, port, chain, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    if addr not in ("127.0.0.1", "::1"):
        sys.exit("loopback only")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain, key)
    srv = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(8)
    srv.settimeout(60)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            break
        if highest_version(peek_hello(conn)) < 0x0303:
            # linger on, timeout 0: close() sends RST instead of FIN
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            continue
        try:
            tls = ctx.wrap_socket(conn, server_side=True)
            tls.recv(65536)
            tls.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
            tls.unwrap()
            tls.close()
        except (ssl.SSLError, OSError):
            conn.close()


if __name__ == "__main__":
    main()
