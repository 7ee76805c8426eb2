#!/usr/bin/env python3
"""Writes seed inputs for every fuzz target from capture files.

    python3 fuzz/seeds.py OUT_DIR CAPTURE_OR_DIR...

OUT_DIR/<target>/ receives seeds in each target's input format (see fuzz/fuzz_targets/*.rs):
whole files for `capture` and `pipeline`, link type + packets for `net`, per-connection chunk
streams for `tls` and `decrypt`, DER certificates (from plaintext Certificate messages and
PEM files) for `certs`, key logs for `keylog`, HTTP client/server bytes for `http`.
Hand-built variants of one sample packet (VLAN, SLL, tunnels, fragments...) widen `net`.
Only the standard library: seeds can be rebuilt anywhere Python 3 runs.
"""

import base64
import gzip
import hashlib
import os
import struct
import sys

MAX_FILE = 64 * 1024  # whole-file seeds above this are skipped (slow to mutate)
MAX_STREAM = 64 * 1024
MAX_NET_PACKETS = 24


def write(out, target, data, tag=""):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    name = "seed-" + (tag + "-" if tag else "") + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def packets(raw):
    """(link type, bytes) of each packet of a pcap or pcapng file (gzip allowed)."""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except Exception:
            return []
    out = []
    magic = raw[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xD4, 0x4D) else ">"
        if len(raw) < 24:
            return []
        link = struct.unpack(e + "I", raw[20:24])[0] & 0xFFFF
        off = 24
        while off + 16 <= len(raw):
            incl = struct.unpack(e + "I", raw[off + 8 : off + 12])[0]
            body = raw[off + 16 : off + 16 + incl]
            out.append((link, body))
            off += 16 + incl
    elif magic == b"\x0a\x0d\x0d\x0a":
        off, e, links = 0, "<", []
        while off + 12 <= len(raw):
            btype = raw[off : off + 4]
            if btype == b"\x0a\x0d\x0d\x0a":
                e = "<" if raw[off + 8 : off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
                links = []
            btype = struct.unpack(e + "I", raw[off : off + 4])[0]
            blen = struct.unpack(e + "I", raw[off + 4 : off + 8])[0]
            if blen < 12:
                break
            body = raw[off + 8 : off + blen - 4]
            if btype == 1 and len(body) >= 2:
                links.append(struct.unpack(e + "H", body[:2])[0])
            elif btype == 6 and len(body) >= 20:
                iface, _, _, cap = struct.unpack(e + "IIII", body[:16])
                if iface < len(links):
                    out.append((links[iface], body[20 : 20 + cap]))
            off += blen
    return out


def ip_of(link, data):
    """The IP packet inside a link-layer frame, or None."""
    if link == 1:
        et, rest = struct.unpack(">H", data[12:14])[0] if len(data) >= 14 else 0, data[14:]
        while et in (0x8100, 0x88A8) and len(rest) >= 4:
            et, rest = struct.unpack(">H", rest[2:4])[0], rest[4:]
        return rest if et in (0x0800, 0x86DD) else None
    if link == 113:
        return data[16:]
    if link == 276:
        return data[20:]
    if link in (101, 12, 14, 228, 229):
        return data
    if link in (0, 108):
        return data[4:]
    return None


def tcp_of(ip):
    """((src, sport), (dst, dport), flags, payload) of an unfragmented TCP packet, or None."""
    if not ip:
        return None
    v = ip[0] >> 4
    if v == 4 and len(ip) >= 20:
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        if ip[9] != 6 or struct.unpack(">H", ip[6:8])[0] & 0x3FFF:
            return None
        src, dst, seg = ip[12:16], ip[16:20], ip[ihl:total]
    elif v == 6 and len(ip) >= 40:
        if ip[6] != 6:
            return None
        plen = struct.unpack(">H", ip[4:6])[0]
        src, dst, seg = ip[8:24], ip[24:40], ip[40 : 40 + plen]
    else:
        return None
    if len(seg) < 20:
        return None
    sport, dport = struct.unpack(">HH", seg[:4])
    doff = (seg[12] >> 4) * 4
    return (src, sport), (dst, dport), seg[13], seg[doff:]


def streams(pkts):
    """Per connection: [(direction, payload)] in packet order, direction 0 = client to server."""
    conns, order = {}, []
    for link, data in pkts:
        t = tcp_of(ip_of(link, data))
        if not t:
            continue
        a, b, flags, payload = t
        key = frozenset((a, b))
        if key not in conns:
            # The client sends the SYN (without ACK); else the first packet's sender.
            client = b if flags & 0x12 == 0x12 else a
            conns[key] = (client, [])
            order.append(key)
        client, chunks = conns[key]
        if payload:
            chunks.append((0 if a == client else 1, payload))
    return [conns[k][1] for k in order]


def stream_seed(chunks):
    out = b""
    for d, p in chunks:
        out += struct.pack("<BH", d, len(p)) + p
        if len(out) > MAX_STREAM:
            break
    return out


def certificates(chunks):
    """DER certificates of plaintext TLS Certificate messages sent by the server."""
    hs = b"".join(p for d, p in chunks if d == 1)
    msgs, off = b"", 0
    while off + 5 <= len(hs):
        ctype, _, ln = struct.unpack(">BHH", hs[off : off + 5])
        if ctype == 22:
            msgs += hs[off + 5 : off + 5 + ln]
        elif ctype not in (20, 21, 23):
            break
        off += 5 + ln
    certs, off = [], 0
    while off + 4 <= len(msgs):
        mtype, ln = msgs[off], int.from_bytes(msgs[off + 1 : off + 4], "big")
        body = msgs[off + 4 : off + 4 + ln]
        if mtype == 11 and len(body) >= 3:
            i = 3
            while i + 3 <= len(body):
                cl = int.from_bytes(body[i : i + 3], "big")
                certs.append(body[i + 3 : i + 3 + cl])
                i += 3 + cl
        off += 4 + ln
    return certs


HTTP_METHODS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"CONNECT ", b"DELETE ", b"OPTIONS ")


def http_seed(chunks):
    client = b"".join(p for d, p in chunks if d == 0)[:16384]
    server = b"".join(p for d, p in chunks if d == 1)[:16384]
    if not client.startswith(HTTP_METHODS):
        return None
    return struct.pack("<H", len(client)) + client + server


def h2_seeds():
    """Hand-built HTTP/2 exchanges (HPACK literals and static-table indexes)."""

    def frame(ftype, flags, sid, payload):
        return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload

    def lit(name, value):
        return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value

    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    settings = frame(4, 0, 0, b"")
    req = b"\x82\x87" + lit(b":authority", b"api.example.com") + lit(b":path", b"/v1/items?token=x&id=2")
    req += lit(b"authorization", b"Bearer abc")
    client = preface + settings + frame(1, 5, 1, req)
    client2 = preface + settings + frame(1, 4, 1, b"\x83\x87\x84") + frame(0, 1, 1, b"a=b")
    server = settings + frame(4, 1, 0, b"") + frame(1, 4, 1, b"\x88") + frame(0, 1, 1, b"{}")
    server401 = settings + frame(1, 4, 1, lit(b":status", b"401") + lit(b"www-authenticate", b"Basic"))
    for c, s in ((client, server), (client2, server401), (client, b"")):
        yield struct.pack("<H", len(c)) + c + s


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4(proto, payload, ident=1, frag=0):
    h = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0,
                    b"\x0a\0\0\1", b"\x0a\0\0\2")
    return h[:10] + struct.pack(">H", csum(h)) + h[12:] + payload


def ipv6(nh, payload):
    return struct.pack(">IHBB16s16s", 0x60000000, len(payload), nh, 64, b"\xfd" + b"\0" * 14 + b"\1",
                       b"\xfd" + b"\0" * 14 + b"\2") + payload


def net_variants(tcp):
    """One TCP segment wrapped in each link layer and tunnel the decoder knows."""
    v4 = ipv4(6, tcp)
    eth = b"\x02\0\0\0\0\2\x02\0\0\0\0\1"
    out = [
        (1, [eth + b"\x08\x00" + v4]),
        (1, [eth + b"\x81\x00\x00\x64\x08\x00" + v4]),
        (1, [eth + b"\x88\xa8\x00\x64\x81\x00\x00\x65\x08\x00" + v4]),
        (1, [eth + b"\x88\x64\x11\x00\x00\x01" + struct.pack(">H", len(v4) + 2) + b"\x00\x21" + v4]),
        (1, [eth + b"\x86\xdd" + ipv6(6, tcp)]),
        (113, [b"\0\0\0\1\0\6" + b"\2\0\0\0\0\1\0\0" + b"\x08\x00" + v4]),
        (276, [b"\x08\x00\0\0" + b"\0\0\0\2" + b"\0\1\0\6" + b"\2\0\0\0\0\1\0\0" + v4]),
        (101, [v4]),
        (228, [v4]),
        (229, [ipv6(6, tcp)]),
        (0, [b"\2\0\0\0" + v4]),
        (108, [b"\0\0\0\2" + v4]),
        (9, [b"\xff\x03\x00\x21" + v4]),
        (1, [eth + b"\x08\x00" + ipv4(4, v4)]),  # IPIP
        (1, [eth + b"\x08\x00" + ipv4(41, ipv6(6, tcp))]),  # 6in4
        (1, [eth + b"\x86\xdd" + ipv6(4, v4)]),  # 4in6
        (1, [eth + b"\x08\x00" + ipv4(47, b"\0\0\x08\x00" + v4)]),  # GRE
        (1, [eth + b"\x08\x00" + ipv4(17, struct.pack(">HHHH", 5000, 4789, 8 + 8 + 14 + len(v4), 0)
                                      + b"\x08\0\0\0\0\0\x01\0" + eth + b"\x08\x00" + v4)]),  # VXLAN
    ]
    # IPv4 fragments, in order and reversed; an IPv6 fragment header.
    half = (len(tcp) // 2) & ~7
    f1, f2 = ipv4(6, tcp[:half], 7, 0x2000), ipv4(6, tcp[half:], 7, half // 8)
    out.append((1, [eth + b"\x08\x00" + f1, eth + b"\x08\x00" + f2]))
    out.append((1, [eth + b"\x08\x00" + f2, eth + b"\x08\x00" + f1]))
    fh1 = struct.pack(">BBHI", 6, 0, 1, 9) + tcp[:half]
    fh2 = struct.pack(">BBHI", 6, 0, half, 9) + tcp[half:]
    out.append((1, [eth + b"\x86\xdd" + ipv6(44, fh1), eth + b"\x86\xdd" + ipv6(44, fh2)]))
    return out


def net_seed(link, pkts):
    out = struct.pack("<H", link & 0xFFFF)
    for p in pkts[:MAX_NET_PACKETS]:
        out += struct.pack("<H", len(p)) + p
    return out


def main():
    out, inputs = sys.argv[1], sys.argv[2:]
    files = []
    for i in inputs:
        if os.path.isdir(i):
            for root, _, names in os.walk(i):
                files += [os.path.join(root, n) for n in sorted(names)]
        else:
            files.append(i)
    variant_done = False
    for path in files:
        raw = open(path, "rb").read()
        if path.endswith((".keys", ".keylog", ".txt")) and b"CLIENT_" in raw:
            write(out, "keylog", raw[:4096])
            continue
        if path.endswith(".pem"):
            for blk in raw.split(b"-----BEGIN CERTIFICATE-----")[1:]:
                b64 = blk.split(b"-----END")[0]
                write(out, "certs", base64.b64decode(b"".join(b64.split())))
            continue
        pkts = packets(raw)
        if not pkts:
            continue
        if len(raw) <= MAX_FILE:
            write(out, "capture", raw)
            write(out, "pipeline", raw)
        by_link = {}
        for link, data in pkts:
            by_link.setdefault(link, []).append(data)
        for link, datas in by_link.items():
            write(out, "net", net_seed(link, datas))
        for chunks in streams(pkts):
            if not chunks:
                continue
            s = stream_seed(chunks)
            write(out, "tls", s)
            write(out, "decrypt", s)
            for der in certificates(chunks):
                write(out, "certs", der)
            h = http_seed(chunks)
            if h:
                write(out, "http", h)
        if not variant_done:
            for link, data in pkts:
                t = ip_of(link, data)
                if t and tcp_of(t) and tcp_of(t)[3]:
                    ihl = (t[0] & 15) * 4 if t[0] >> 4 == 4 else 40
                    for i, (vl, vp) in enumerate(net_variants(t[ihl:])):
                        write(out, "net", net_seed(vl, vp), "v%02d" % i)
                    variant_done = True
                    break
    for h in h2_seeds():
        write(out, "http", h, "h2")


if __name__ == "__main__":
    main()
