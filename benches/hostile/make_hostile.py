#!/usr/bin/env python3
"""Hostile captures for the memory budget (issue 21): floods that model an attack.

The packets are hand-built (a small pcap writer, Ethernet/IPv4/TCP) because what they model
is an attacker's traffic, not a real stack's: nothing here could be captured from a working
client. Certificates are real: made with openssl (self-signed, ~245 KB each from a long
subjectAltName list, distinct by subject and serial).

    make_hostile.py OUTDIR [CASE...]

Cases (default: the four big ones):
  syn-flood      2,000,000 unanswered SYNs to 10.0.0.1:443 from 65,536 sources, 60 s
  half-open      200,000 established connections, each with the first 300 bytes of a
                 ClientHello whose record claims 512 (never completed, never closed)
  big-certs      1,500 connections, each a TLS 1.2 handshake with its own ~245 KB certificate
  alerts         one connection, a ClientHello, then 4,000,000 plaintext warning alerts
  small-flood    the test file: 300 unanswered SYNs to 10.0.0.1:443 from 60 sources in 3 s,
                 then a scan: 10.9.9.9 sends one SYN to each of ports 1..100 of 10.0.0.2,
                 answered by RST, then one ordinary answered connection
  small-alerts   the alerts case with 100 alerts (a test file)
"""
import os
import struct
import subprocess
import sys
import tempfile

BASE_TS = 1_700_000_000
ETH = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
SYN, ACK, PSH, RST, FIN = 0x02, 0x10, 0x08, 0x04, 0x01


def ip_bytes(ip):
    return bytes(int(x) for x in ip.split("."))


def checksum(hdr):
    s = sum(struct.unpack("!10H", hdr))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


class Pcap:
    def __init__(self, path):
        self.f = open(path, "wb", buffering=1 << 20)
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))

    def tcp(self, t, src, dst, sport, dport, seq, ack, flags, payload=b""):
        total = 40 + len(payload)
        ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, src, dst))
        ip[10:12] = struct.pack("!H", checksum(bytes(ip)))
        # TCP checksum left 0: tlscap does not check it (offloaded captures have wrong ones).
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          5 << 4, flags, 65535, 0, 0)
        frame = ETH + bytes(ip) + tcp + payload
        secs = int(t)
        usecs = int(round((t - secs) * 1e6))
        self.f.write(struct.pack("<IIII", BASE_TS + secs, usecs, len(frame), len(frame)))
        self.f.write(frame)

    def close(self):
        self.f.close()


def record(ct, body, version=0x0303):
    return struct.pack("!BHH", ct, version, len(body)) + body


def handshake(ht, body):
    return struct.pack("!B", ht) + len(body).to_bytes(3, "big") + body


def client_hello(sni):
    name = sni.encode()
    sni_ext = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    exts = sni_ext + struct.pack("!HHH", 0x000D, 4, 2) + b"\x04\x01"
    body = (b"\x03\x03" + bytes(range(32)) + b"\x00" + struct.pack("!H", 4) + b"\xc0\x2f\x00\x9c"
            + b"\x01\x00" + struct.pack("!H", len(exts)) + exts)
    return handshake(1, body)


def server_hello():
    body = b"\x03\x03" + bytes(range(32, 64)) + b"\x00" + b"\xc0\x2f" + b"\x00" + b"\x00\x00"
    return handshake(2, body)


def certificate_msg(ders):
    certs = b"".join(len(d).to_bytes(3, "big") + d for d in ders)
    return handshake(11, len(certs).to_bytes(3, "big") + certs)


def records_of(ct, data, size=16384):
    return b"".join(record(ct, data[i:i + size]) for i in range(0, len(data), size))


class Conn:
    """One TCP connection's packets: handshake, data segments, close."""

    def __init__(self, pcap, client, server, cport, sport=443, isn=(1000, 5000)):
        self.p, self.c, self.s, self.cp, self.sp = pcap, client, server, cport, sport
        self.cseq, self.sseq = isn

    def open(self, t):
        self.p.tcp(t, self.c, self.s, self.cp, self.sp, self.cseq, 0, SYN)
        self.p.tcp(t + 0.0001, self.s, self.c, self.sp, self.cp, self.sseq, self.cseq + 1, SYN | ACK)
        self.cseq += 1
        self.sseq += 1
        self.p.tcp(t + 0.0002, self.c, self.s, self.cp, self.sp, self.cseq, self.sseq, ACK)

    def send(self, t, from_client, data, mss=65000):
        for i in range(0, len(data), mss):
            chunk = data[i:i + mss]
            if from_client:
                self.p.tcp(t, self.c, self.s, self.cp, self.sp, self.cseq, self.sseq, ACK | PSH, chunk)
                self.cseq += len(chunk)
            else:
                self.p.tcp(t, self.s, self.c, self.sp, self.cp, self.sseq, self.cseq, ACK | PSH, chunk)
                self.sseq += len(chunk)

    def close(self, t):
        self.p.tcp(t, self.c, self.s, self.cp, self.sp, self.cseq, self.sseq, FIN | ACK)
        self.p.tcp(t + 0.0001, self.s, self.c, self.sp, self.cp, self.sseq, self.cseq + 1, FIN | ACK)
        self.p.tcp(t + 0.0002, self.c, self.s, self.cp, self.sp, self.cseq + 1, self.sseq + 1, ACK)


def source(i):
    """The i-th of 65,536 client addresses (10.1.0.0/16)."""
    return bytes([10, 1, (i >> 8) & 0xFF, i & 0xFF])


def syn_flood(path, count=2_000_000, seconds=60.0):
    p = Pcap(path)
    server = ip_bytes("10.0.0.1")
    for i in range(count):
        # Sources and ports spread like a spoofed flood: 65,536 addresses, ports 1024..65023.
        src = source((i * 40503) & 0xFFFF)
        sport = 1024 + (i * 7919) % 64000
        p.tcp(seconds * i / count, src, server, sport, 443, i * 2654435761, 0, SYN)
    p.close()


def half_open(path, count=200_000, seconds=100.0):
    p = Pcap(path)
    server = ip_bytes("10.0.0.1")
    hello = record(22, client_hello("half-open.example") + b"\x00" * 400)
    # The record header claims its full length; only the first 300 bytes are ever sent.
    fragment = hello[:300]
    for i in range(count):
        t = seconds * i / count
        # 65,536 sources, each with up to 4 connections (distinct ports).
        c = Conn(p, source(i & 0xFFFF), server, 1024 + (i >> 16), 443)
        c.open(t)
        c.send(t + 0.0003, True, fragment)
    p.close()


def make_certs(workdir, count, san_names=6800):
    """`count` distinct self-signed certificates of ~245 KB (DER), made with openssl."""
    key = os.path.join(workdir, "key.pem")
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key],
                   check=True)
    conf = os.path.join(workdir, "big.cnf")
    with open(conf, "w") as f:
        f.write("[req]\ndistinguished_name=dn\n[dn]\n[ext]\nsubjectAltName=@alt\n[alt]\n")
        for n in range(san_names):
            f.write(f"DNS.{n}=host-{n:05d}.big-certificate.example\n")
    jobs = []
    for i in range(count):
        der = os.path.join(workdir, f"cert{i}.der")
        if not os.path.exists(der):
            jobs.append(["openssl", "req", "-x509", "-new", "-key", key, "-config", conf,
                         "-extensions", "ext", "-subj", f"/CN=big{i}.example", "-set_serial",
                         str(i + 1), "-days", "3650", "-outform", "DER", "-out", der])
    running = []
    for cmd in jobs:
        running.append(subprocess.Popen(cmd))
        if len(running) >= 4:
            running.pop(0).wait()
    for r in running:
        r.wait()
    return [os.path.join(workdir, f"cert{i}.der") for i in range(count)]


def big_certs(path, count=1500, workdir=None):
    workdir = workdir or tempfile.mkdtemp(prefix="tlscap-certs-")
    ders = make_certs(workdir, count)
    p = Pcap(path)
    server = ip_bytes("10.0.0.1")
    for i, der_path in enumerate(ders):
        with open(der_path, "rb") as f:
            der = f.read()
        t = i * 0.05
        c = Conn(p, source(i), server, 20000 + i, 443)
        c.open(t)
        c.send(t + 0.001, True, record(22, client_hello(f"big{i}.example")))
        flight = server_hello() + certificate_msg([der]) + handshake(14, b"")
        c.send(t + 0.002, False, records_of(22, flight))
        c.close(t + 0.003)
    p.close()


def alerts(path, count=4_000_000):
    p = Pcap(path)
    c = Conn(p, ip_bytes("10.1.0.1"), ip_bytes("10.0.0.1"), 40000, 443)
    c.open(0.0)
    c.send(0.001, True, record(22, client_hello("alerts.example")))
    # Warning-level unrecognized_name: a warning does not end the handshake, so each counts.
    one = record(21, b"\x01\x70")
    per_segment = 9000
    t = 0.002
    for done in range(0, count, per_segment):
        c.send(t, False, one * min(per_segment, count - done))
        t += 0.0001
    c.close(t)
    p.close()


def small_flood(path):
    p = Pcap(path)
    flooded, scanned = ip_bytes("10.0.0.1"), ip_bytes("10.0.0.2")
    for i in range(300):
        p.tcp(3.0 * i / 300, source(i % 60), flooded, 30000 + i, 443, 77 + i * 1000, 0, SYN)
    scanner = ip_bytes("10.9.9.9")
    for port in range(1, 101):
        t = 4.0 + port * 0.001
        p.tcp(t, scanner, scanned, 55555, port, 999, 0, SYN)
        p.tcp(t + 0.0001, scanned, scanner, port, 55555, 0, 1000, RST | ACK)
    c = Conn(p, ip_bytes("10.1.0.1"), flooded, 45000, 443)
    c.open(5.0)
    c.send(5.001, True, record(22, client_hello("ok.example")))
    c.close(5.002)
    p.close()


CASES = {
    "syn-flood": syn_flood,
    "half-open": half_open,
    "big-certs": big_certs,
    "alerts": alerts,
    "small-flood": small_flood,
    "small-alerts": lambda path: alerts(path, count=100),
}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for case in sys.argv[2:] or ["syn-flood", "half-open", "big-certs", "alerts"]:
        if case == "big-certs":
            certs = os.path.join(out, "certs")
            os.makedirs(certs, exist_ok=True)
            big_certs(os.path.join(out, "big-certs.pcap"), workdir=certs)
        else:
            CASES[case](os.path.join(out, f"{case}.pcap"))
        print(f"{case}: {os.path.getsize(os.path.join(out, case + '.pcap'))} bytes")


if __name__ == "__main__":
    main()
