#!/usr/bin/env python3
"""Tiny misbehaving TCP servers for make_samples.sh (loopback only).

usage: tcpserver.py MODE ADDR PORT [CHAIN_PEM KEY_PEM]
  rst-after-clienthello  accept, read one full TLS record (the ClientHello), abort with RST
  rst-after-request      complete a TLS handshake (python ssl = OpenSSL, CHAIN_PEM/KEY_PEM),
                         read the request, abort with RST instead of answering
  silent                 accept, read whatever comes, never answer (until killed, max 60 s)
  answer-then-wait       complete a TLS handshake (as rst-after-request), read the request,
                         answer 200 (HTTP/1.1, kept alive), then wait 3 s before reading again
"""
import socket
import ssl
import struct
import sys
import time


def read_record(conn):
    """Read one TLS record (5-byte header + body); stop early if the peer closes."""
    data = b""
    need = 5
    while len(data) < need:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) >= 5:
            need = 5 + struct.unpack("!H", data[3:5])[0]
    return data


def tls_request(conn):
    """Complete a TLS handshake (python ssl = OpenSSL, CHAIN_PEM/KEY_PEM) and read the request."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[4], sys.argv[5])
    tls = ctx.wrap_socket(conn, server_side=True)
    tls.recv(65536)
    return tls


def main():
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if addr not in ("127.0.0.1", "::1"):
        sys.exit("loopback only")
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(8)
    deadline = time.time() + 60
    srv.settimeout(60)
    while time.time() < deadline:
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            break
        if mode == "rst-after-clienthello":
            read_record(conn)
            # linger on, timeout 0: close() sends RST instead of FIN
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
        elif mode in ("rst-after-request", "answer-then-wait"):
            try:
                tls = tls_request(conn)
                if mode == "rst-after-request":
                    # no close_notify: the TCP connection is aborted under the TLS session
                    tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                else:
                    body = b"hello from tlscap samples\n"
                    tls.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                        % (len(body), body)
                    )
                    # whatever the client does next (close_notify, RST) lands while this waits
                    time.sleep(3)
                tls.close()
            except (ssl.SSLError, OSError):
                conn.close()
        elif mode == "silent":
            conn.settimeout(max(0.1, deadline - time.time()))
            try:
                while conn.recv(65536):
                    pass
            except socket.timeout:
                pass
            time.sleep(max(0.0, deadline - time.time()))
            conn.close()
        else:
            sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
