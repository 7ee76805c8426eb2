#!/usr/bin/env python3
"""silentclient.py MODE HOST PORT -- TCP clients that never send a ClientHello.

  close        connect, then close at once (FIN): a port probe or health check
  idle SECS    connect and send nothing for SECS seconds, then close (the server may close first)
  abandon      start a non-blocking connect and close the socket 0.3 s later, while the
               SYN-ACK is held back (make_samples.sh drops it with nftables): the kernel
               answers the server's retransmitted SYN-ACK with a RST, as it does for a browser
               that gave up on an attempt (happy eyeballs) or a SYN scan
"""
import socket
import sys
import time

mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "close":
    socket.create_connection((host, port), timeout=5).close()
elif mode == "idle":
    s = socket.create_connection((host, port), timeout=5)
    time.sleep(float(sys.argv[4]))
    s.close()
elif mode == "abandon":
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.connect_ex((host, port))
    time.sleep(0.3)
    s.close()
else:
    sys.exit("usage: silentclient.py close|idle SECS|abandon HOST PORT")
