#!/usr/bin/env python3
# How many bytes a loopback TCP server socket takes from 300-byte writes before a write would
# block, when its client never reads: with a small SO_RCVBUF alone, and also with a small
# TCP_MAXSEG. Explains why an /api/events reader that never reads is only cut by the router's
# write timeout once the kernel's buffers are full (tests/router/event_stream_test.cpp).
#   python3 bench/loopback_sndbuf.py
import socket
import time


def trial(rcvbuf, maxseg):
    srv = socket.socket()
    srv.bind(('127.0.0.1', 0))
    srv.listen(1)
    c = socket.socket()
    if rcvbuf:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if maxseg:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, maxseg)
    c.connect(srv.getsockname())
    s, _ = srv.accept()
    s.setblocking(False)
    total, stalls, chunk = 0, 0, b'x' * 300
    deadline = time.time() + 5
    while time.time() < deadline and stalls <= 50:
        try:
            total += s.send(chunk)
            stalls = 0
        except BlockingIOError:  # full: give the kernel 10 ms to grow the buffer, 50 times
            stalls += 1
            time.sleep(0.01)
    print(f'client SO_RCVBUF={rcvbuf or "default"} TCP_MAXSEG={maxseg or "default"}: the server took '
          f'{total:,} bytes; its SO_SNDBUF is now {s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF):,}')
    for x in (c, s, srv):
        x.close()


trial(0, 0)
trial(4096, 0)
trial(4096, 536)
