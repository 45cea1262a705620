#!/usr/bin/env python3
"""A UDP relay on loopback that loses and delays datagrams, for links this
kernel cannot shape (no netem): what arrives on 127.0.0.1:PORT goes to
TARGET after DELAY seconds, unless dropped with probability LOSS; answers
go back to the last client the same way. Prints "READY PORT" once bound.

  lossy-relay.py TARGET_HOST:TARGET_PORT [--loss 0.05] [--delay 0.05] [--seed N]
"""

import argparse
import heapq
import random
import select
import socket
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("target")
    parser.add_argument("--loss", type=float, default=0.05)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    host, port = args.target.rsplit(":", 1)
    target = (host, int(port))
    rng = random.Random(args.seed)

    front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front.bind(("127.0.0.1", 0))
    back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    back.bind(("127.0.0.1", 0))
    for s in (front, back):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.setblocking(False)
    print("READY %d" % front.getsockname()[1], flush=True)

    client = None
    pending = []   # (due, sequence, socket, data, address)
    sequence = 0
    while True:
        timeout = max(0.0, pending[0][0] - time.monotonic()) if pending else None
        readable, _, _ = select.select([front, back], [], [], timeout)
        now = time.monotonic()
        for s in readable:
            while True:
                try:
                    data, address = s.recvfrom(65536)
                except BlockingIOError:
                    break
                if s is front:
                    client = address
                    out, to = back, target
                elif client is None:
                    continue
                else:
                    out, to = front, client
                if rng.random() < args.loss:
                    continue
                sequence += 1
                heapq.heappush(pending, (now + args.delay, sequence, out, data, to))
        while pending and pending[0][0] <= time.monotonic():
            _, _, out, data, to = heapq.heappop(pending)
            try:
                out.sendto(data, to)
            except OSError:
                pass


try:
    main()
except KeyboardInterrupt:
    sys.exit(0)
