#!/usr/bin/env python3
"""Two tenants, one inner 5-tuple: the real packets of a loopback TLS capture wrapped OFFLINE
(scapy) in VXLAN twice, once in VNI 100 and once in VNI 200 half a millisecond later, and the
two copies interleaved in time order. Both copies travel between the same VTEPs (documentation
addresses 192.0.2.1 and 192.0.2.2, client -> server packets from .1), so only the VNI tells the
two connections apart, as when two tenants of one host reuse the same private addresses.
The inner IP packets are kept byte for byte.

Usage: wrap_two_vnis.py SOURCE.pcap OUT.pcap
"""
import sys
from decimal import Decimal

from scapy.all import IP, UDP, Ether, Raw, rdpcap, wrpcap
from scapy.layers.vxlan import VXLAN

src, out_path = sys.argv[1], sys.argv[2]
packets = rdpcap(src)
client_port = packets[0][IP].sport  # the first packet is the client's SYN

out = []
for vni, shift in ((100, Decimal(0)), (200, Decimal("0.0005"))):
    for p in packets:
        up = p[IP].sport == client_port
        a, b = ("192.0.2.1", "192.0.2.2") if up else ("192.0.2.2", "192.0.2.1")
        w = (Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
             / IP(src=a, dst=b) / UDP(sport=49152 + vni, dport=4789)
             / VXLAN(vni=vni, flags=0x08)
             / Ether(src="02:00:00:00:01:01", dst="02:00:00:00:01:02", type=0x0800)
             / Raw(bytes(p[IP])))
        w.time = Decimal(p.time) + shift
        out.append(w)
out.sort(key=lambda w: w.time)
wrpcap(out_path, out)
