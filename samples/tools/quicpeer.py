#!/usr/bin/env python3
"""quicpeer.py -- a tiny QUIC server or client on aioquic (PyPI), for the QUIC samples.

  quicpeer.py server HOST PORT CERT KEY ALPN [--retry] [--versions V,...]
  quicpeer.py client HOST PORT SNI ALPN KEYLOG [--timeout S] [--versions V,...]

--versions: the QUIC versions it speaks, in order of preference, as hex codes (1 = v1,
6b3343cf = v2, 1a2a3a4a = a reserved GREASE version no server speaks); aioquic's own list
without it. A client starts with the first.

The server answers any stream with one line and closes it; the client opens one stream, sends
a line, reads the answer and closes. The client writes its TLS secrets (NSS key log) to KEYLOG.
"""
import asyncio
import ssl
import sys

from aioquic.asyncio import connect, serve
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import StreamDataReceived


class Answer(QuicConnectionProtocol):
    def quic_event_received(self, event):
        if isinstance(event, StreamDataReceived) and event.end_stream:
            self._quic.send_stream_data(event.stream_id, b"hello from aioquic\n", end_stream=True)
            self.transmit()


async def server(host, port, cert, key, alpn, retry, versions):
    cfg = QuicConfiguration(is_client=False, alpn_protocols=[alpn])
    if versions:
        cfg.supported_versions = versions
    cfg.load_cert_chain(cert, key)
    await serve(host, int(port), configuration=cfg, create_protocol=Answer, retry=retry)
    await asyncio.Future()


async def client(host, port, sni, alpn, keylog, timeout, versions):
    cfg = QuicConfiguration(is_client=True, alpn_protocols=[alpn], server_name=sni)
    if versions:
        cfg.supported_versions = versions
    cfg.verify_mode = ssl.CERT_NONE
    cfg.idle_timeout = timeout
    with open(keylog, "a") as log:
        cfg.secrets_log_file = log
        try:
            async with connect(host, int(port), configuration=cfg) as peer:
                reader, writer = await peer.create_stream()
                writer.write(b"GET /\n")
                writer.write_eof()
                print((await reader.read()).decode().strip())
        except Exception as e:  # the failing scenarios end here, by design
            print(f"client: {type(e).__name__}: {e}", file=sys.stderr)


if __name__ == "__main__":
    a = sys.argv[1:]
    v = [int(x, 16) for x in a[a.index("--versions") + 1].split(",")] if "--versions" in a else None
    if a[0] == "server":
        asyncio.run(server(*a[1:6], retry="--retry" in a, versions=v))
    else:
        t = float(a[a.index("--timeout") + 1]) if "--timeout" in a else 5.0
        asyncio.run(client(*a[1:6], timeout=t, versions=v))
