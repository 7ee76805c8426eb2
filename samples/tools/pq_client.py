#!/usr/bin/env python3
"""A TLS client on the OpenSSL that the `cryptography` wheel bundles (through pyOpenSSL), for
samples that need what Debian's OpenSSL 3.0 cannot send: OpenSSL 3.5 and later offer an
X25519MLKEM768 key share by default, which makes the ClientHello longer than one segment.

usage: pq_client.py HOST PORT SNI CA_FILE KEYLOG_FILE
Prints the HTTP status line, or why the handshake failed. Gives up after 10 s.
"""
import select
import socket
import sys
import time

from OpenSSL import SSL


def main():
    host, port, sni, ca, keylog = sys.argv[1:6]
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_verify(SSL.VERIFY_PEER)
    ctx.load_verify_locations(ca)
    keys = open(keylog, "ab")

    def log_key(_conn, line):
        keys.write(line + b"\n")
        keys.flush()

    ctx.set_keylog_callback(log_key)
    sock = socket.create_connection((host, int(port)))
    sock.setblocking(False)
    conn = SSL.Connection(ctx, sock)
    conn.set_tlsext_host_name(sni.encode())
    conn.set_connect_state()
    deadline = time.monotonic() + 10

    def retry(step):
        # Non-blocking: wait for the socket until the deadline, then give up.
        while True:
            try:
                return step()
            except SSL.WantReadError:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([sock], [], [], left)[0]:
                    raise TimeoutError("no answer in 10 s")

    try:
        retry(conn.do_handshake)
        conn.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % sni.encode())
        print(retry(lambda: conn.recv(4096)).split(b"\r\n")[0].decode())
    except (SSL.Error, OSError) as e:
        print("failed: %r" % (e,))
    finally:
        sock.close()


if __name__ == "__main__":
    main()
