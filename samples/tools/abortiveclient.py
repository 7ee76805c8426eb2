#!/usr/bin/env python3
"""A client that ends its TLS session properly, then aborts the TCP connection (loopback only).

usage: abortiveclient.py ADDR PORT SNI CA_PEM KEYLOG

TLS (python ssl = OpenSSL) with SNI, verifying against CA_PEM, secrets to KEYLOG; sends one
HTTP/1.1 GET, reads the whole response, sends close_notify without waiting for the server's,
then closes with SO_LINGER 0, so the kernel sends RST instead of FIN: how many HTTP clients
(Java and .NET pools, browsers) end a connection they are done with.
"""
import socket
import ssl
import struct
import sys


def main():
    addr, port, sni, ca, keylog = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    if addr not in ("127.0.0.1", "::1"):
        sys.exit("loopback only")
    ctx = ssl.create_default_context(cafile=ca)
    ctx.keylog_filename = keylog
    raw = socket.create_connection((addr, port), timeout=10)
    tls = ctx.wrap_socket(raw, server_hostname=sni)
    tls.sendall(f"GET /hello.txt HTTP/1.1\r\nHost: {sni}\r\n\r\n".encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += tls.recv(65536)
    head, _, body = response.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += tls.recv(65536)
    print(head.split(b"\r\n")[0].decode(), len(body), "bytes")
    # close_notify goes out; the server's is not awaited (the second SSL_shutdown step would
    # wait for it: non-blocking, it gives up at once).
    tls.setblocking(False)
    try:
        sock = tls.unwrap()  # the plain socket, TLS done
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
        sock = tls
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


if __name__ == "__main__":
    main()
