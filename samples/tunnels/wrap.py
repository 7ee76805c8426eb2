#!/usr/bin/env python3
"""Wraps the real packets of a loopback TLS capture in tunnel headers, offline (scapy).

The inner IP packets are kept byte for byte; only the outer headers are made here, with
documentation addresses (192.0.2.0/24, 2001:db8::/32). Client -> server packets travel
192.0.2.1 -> 192.0.2.2 and replies the other way, as a real tunnel would carry them.

Usage: wrap.py SOURCE.pcap OUTDIR
"""
import sys

from scapy.all import IP, IPv6, UDP, Ether, Dot1Q, GRE, rdpcap, wrpcap, Raw
from scapy.layers.dot11 import RadioTap, Dot11, Dot11QoS
from scapy.layers.l2 import LLC, SNAP
from scapy.contrib.geneve import GENEVE
from scapy.contrib.mpls import MPLS
from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III
from scapy.contrib.gtp import GTP_U_Header

src, outdir = sys.argv[1], sys.argv[2]
packets = rdpcap(src)
client_port = packets[0][IP].sport  # the first packet is the client's SYN


def inner(p):
    return Raw(bytes(p[IP]))


def outer4(p, proto=None):
    up = p[IP].sport == client_port
    a, b = ("192.0.2.1", "192.0.2.2") if up else ("192.0.2.2", "192.0.2.1")
    return IP(src=a, dst=b) if proto is None else IP(src=a, dst=b, proto=proto)


def eth():
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


def inner_eth(p):
    return Ether(src="02:00:00:00:01:01", dst="02:00:00:00:01:02", type=0x0800) / inner(p)


CARRIERS = {
    # GENEVE (UDP 6081), VNI 7, an Ethernet frame inside.
    "geneve": lambda p: eth() / outer4(p) / UDP(sport=40000, dport=6081)
    / GENEVE(vni=7, proto=0x6558) / inner_eth(p),
    # GRE carrying IPv4 directly.
    "gre": lambda p: eth() / outer4(p, 47) / GRE(proto=0x0800) / inner(p),
    # GRE with key 1000, transparent Ethernet bridging (gretap).
    "gretap-key": lambda p: eth() / outer4(p, 47)
    / GRE(key_present=1, key=1000, proto=0x6558) / inner_eth(p),
    # ERSPAN type II (GRE with a sequence number), session 42.
    "erspan2": lambda p: eth() / outer4(p, 47)
    / GRE(seqnum_present=1, seqence_number=1, proto=0x88BE)
    / ERSPAN_II(ver=1, session_id=42) / inner_eth(p),
    # ERSPAN type III, session 5.
    "erspan3": lambda p: eth() / outer4(p, 47) / GRE(proto=0x22EB)
    / ERSPAN_III(session_id=5) / inner_eth(p),
    # MPLS label stack 16, 17 on Ethernet.
    "mpls": lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=0x8847)
    / MPLS(label=16, s=0, ttl=64) / MPLS(label=17, s=1, ttl=64) / inner(p),
    # MPLS (label 100) inside GRE: a nested carrier.
    "gre-mpls": lambda p: eth() / outer4(p, 47) / GRE(proto=0x8847)
    / MPLS(label=100, s=1, ttl=64) / inner(p),
    # IPv4 in IPv4.
    "ipip": lambda p: eth() / outer4(p, 4) / inner(p),
    # IPv4 in IPv6.
    "4in6": lambda p: eth() / IPv6(src="2001:db8::1" if p[IP].sport == client_port else "2001:db8::2",
                                   dst="2001:db8::2" if p[IP].sport == client_port else "2001:db8::1",
                                   nh=4) / inner(p),
    # GTP-U (UDP 2152), TEID 0x1f4, inside a VLAN tag (100).
    "vlan-gtpu": lambda p: eth() / Dot1Q(vlan=100) / outer4(p) / UDP(sport=2152, dport=2152)
    / GTP_U_Header(teid=0x1F4, gtp_type=255) / inner(p),
}

for name, wrap in CARRIERS.items():
    out = []
    for p in packets:
        w = wrap(p)
        w.time = p.time
        out.append(w)
    wrpcap(f"{outdir}/{name}.pcap", out)

# 802.11 QoS data frames (to-DS) with LLC/SNAP under radiotap: link type 127.
out = []
for p in packets:
    up = p[IP].sport == client_port
    w = (RadioTap()
         / Dot11(type=2, subtype=8, FCfield="to-DS" if up else "from-DS",
                 addr1="02:00:00:00:00:02", addr2="02:00:00:00:00:01", addr3="02:00:00:00:00:03")
         / Dot11QoS() / LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0, code=0x0800) / inner(p))
    w.time = p.time
    out.append(w)
wrpcap(f"{outdir}/wlan-radiotap.pcap", out, linktype=127)
