#!/usr/bin/env python3
"""Drives a swarm for bench/run-swarm.sh: one seeder and N downloaders,
each a process in a network namespace of its own.

  swarm-peers.py lanspread --bin PEER --work DIR --seeder GAMES@NETNS@ADDR
                 --downloader NETNS@ADDR [...]
      lanspread-peer serve processes: one downloader alone from the
      seeder, then all downloaders together, dialling the seeder and each
      other. Prints "RESULT alone=S all=S" (wall seconds from writing
      "download" to the last "download-done") and one "PEER" line per
      downloader with the bytes it got from the seeder and from the others.
      With --no-swarm every peer runs with --no-swarm: complete copies only.
  swarm-peers.py bittorrent --work DIR --file PATH --seeder NETNS@ADDR
                 --downloader NETNS@ADDR [...] --tracker ADDR
      The same with aria2c as BitTorrent peers and a minimal HTTP tracker
      here (announce only, compact peer lists): the reference.
Every lanspread-peer gets --no-mdns; aria2c gets no DHT, no local peer
discovery and no peer exchange, so the peers find each other through the
tracker only.
"""

import argparse
import hashlib
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lspeers import TIMEOUT, Peer, die  # noqa: E402

PORT = 7610


def split(spec):
    ns, addr = spec.split("@")
    return ns, addr


# ---- lanspread ----

def start_lanspread(args, name, ns, addr, games, peers):
    state = os.path.join(args.work, name + "-state")
    shutil.rmtree(state, ignore_errors=True)
    os.makedirs(state)
    argv = ["ip", "netns", "exec", ns, args.bin, "serve", "--games", games, "--state-dir", state,
            "--no-mdns", "--port", str(PORT)]
    if args.no_swarm:
        argv.append("--no-swarm")
    for p in peers:
        argv += ["--peer", "%s:%d" % (p, PORT)]
    return Peer(name, argv, args.work)


def fresh_games(args, name):
    games = os.path.join(args.work, name + "-games")
    shutil.rmtree(games, ignore_errors=True)
    os.makedirs(games)
    shutil.copy(os.path.join(args.seeder.split("@")[0], "catalog.json"), games)
    return games


def wait_joined(peer, seeder_id, n_peers, deadline):
    """Until the peer is ready, sees the seeder's game and has met n_peers."""
    ready = seen = False
    met = set()
    while not (ready and seen and len(met) >= n_peers):
        _, event = peer.next_event(deadline)
        if event["event"] == "ready":
            ready = True
        elif event["event"] == "peer-added":
            met.add(event.get("peer", {}).get("peer_id"))
        elif event["event"] == "peer-games-changed" and event.get("peer_id") == seeder_id \
                and "big" in event.get("changed", []):
            seen = True


def run_lanspread(args, downloaders, seeder_id, seeder_addr):
    """Starts the downloaders, each dialling the seeder and the others;
    returns the wall time until all are done and their download-done."""
    addrs = [split(d)[1] for d in downloaders]
    peers = []
    for i, spec in enumerate(downloaders):
        ns, addr = split(spec)
        name = "dl%d" % i
        others = [a for a in addrs if a != addr]
        peers.append(start_lanspread(args, name, ns, addr, fresh_games(args, name), [seeder_addr] + others))
    deadline = time.monotonic() + TIMEOUT
    # Every downloader has met the seeder and the others before anyone starts.
    for p in peers:
        wait_joined(p, seeder_id, len(peers), deadline)
    t0 = time.monotonic()
    for p in peers:
        p.send("download big")
    done = []
    for p in peers:
        t, event = p.wait_for("download-done", t0 + TIMEOUT)
        done.append((t, event))
    wall = max(t for t, _ in done) - t0
    for p in peers:
        p.quit()
    return wall, [e for _, e in done], peers


def cmd_lanspread(args):
    ns, addr = split(args.seeder.split("@", 1)[1])
    seeder = start_lanspread(args, "seeder", ns, addr, args.seeder.split("@")[0], [])
    deadline = time.monotonic() + TIMEOUT
    _, ready = seeder.wait_for("ready", deadline)
    seeder_id = ready["peer_id"]
    try:
        alone, _, _ = run_lanspread(args, args.downloader[:1], seeder_id, addr)
        every, events, _ = run_lanspread(args, args.downloader, seeder_id, addr)
    finally:
        seeder.quit()
    print("RESULT alone=%.3f all=%.3f" % (alone, every), flush=True)
    for i, e in enumerate(events):
        peers = e.get("peers", {})
        from_seeder = peers.get(seeder_id, 0)
        print("PEER dl%d seeder=%d others=%d" % (i, from_seeder, sum(peers.values()) - from_seeder), flush=True)


# ---- BitTorrent reference ----

def bencode(value):
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(value[k]) for k in sorted(value)) + b"e"


def make_torrent(path, tracker, piece_length=1 << 20):
    pieces = []
    with open(path, "rb") as f:
        while True:
            block = f.read(piece_length)
            if not block:
                break
            pieces.append(hashlib.sha1(block).digest())
    info = {"name": os.path.basename(path), "length": os.path.getsize(path),
            "piece length": piece_length, "pieces": b"".join(pieces)}
    return bencode({"announce": "http://%s/announce" % tracker, "info": info})


class Tracker(http.server.BaseHTTPRequestHandler):
    swarm = {}
    lock = threading.Lock()

    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query, keep_blank_values=True,
                                      encoding="latin-1")
        info_hash = query.get("info_hash", [""])[0]
        port = int(query.get("port", ["0"])[0])
        me = (self.client_address[0], port)
        with self.lock:
            peers = self.swarm.setdefault(info_hash, set())
            others = [p for p in peers if p != me]
            peers.add(me)
        compact = b"".join(socket.inet_aton(h) + p.to_bytes(2, "big") for h, p in others)
        body = bencode({"interval": 5, "min interval": 1, "peers": compact})
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def start_aria2(args, name, ns, addr, torrent, directory, seed_only):
    os.makedirs(directory, exist_ok=True)
    done = os.path.join(args.work, name + ".done")
    hook = os.path.join(args.work, "on-complete.sh")
    argv = ["ip", "netns", "exec", ns, "aria2c", "--dir", directory, "--enable-dht=false",
            "--bt-enable-lpd=false", "--enable-peer-exchange=false", "--listen-port=6881",
            "--bt-max-peers=0", "--bt-request-peer-speed-limit=0", "--max-upload-limit=0",
            "--seed-ratio=0.0", "--seed-time=600", "--summary-interval=0", "--console-log-level=warn",
            "--file-allocation=none", "--check-integrity=false",
            "--on-bt-download-complete=" + hook, torrent]
    if seed_only:
        argv[-1:-1] = ["--bt-seed-unverified=true"]
    log = open(os.path.join(args.work, name + ".log"), "wb")
    env = dict(os.environ, SWARM_DONE=done)
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env), done


def run_bittorrent(args, downloaders, torrent):
    procs = []
    t0 = time.monotonic()
    marks = []
    for i, spec in enumerate(downloaders):
        ns, addr = split(spec)
        name = "bt%d" % i
        directory = os.path.join(args.work, name)
        shutil.rmtree(directory, ignore_errors=True)
        proc, done = start_aria2(args, name, ns, addr, torrent, directory, False)
        if os.path.exists(done):
            os.unlink(done)
        procs.append(proc)
        marks.append(done)
    # aria2c tells of a completed download only through its hook, which
    # writes a file: wait for all of them.
    deadline = t0 + TIMEOUT
    finished = {}
    while len(finished) < len(marks):
        for m in marks:
            if m not in finished and os.path.exists(m):
                finished[m] = time.monotonic()
        if time.monotonic() > deadline:
            die("BitTorrent downloaders timed out")
        time.sleep(0.02)
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait()
    size = os.path.getsize(args.file)
    for i in range(len(downloaders)):
        got = os.path.join(args.work, "bt%d" % i, os.path.basename(args.file))
        if not os.path.exists(got) or os.path.getsize(got) != size:
            die("bt%d did not get the whole file" % i)
    return max(finished.values()) - t0


def cmd_bittorrent(args):
    with open(os.path.join(args.work, "on-complete.sh"), "w") as f:
        f.write('#!/bin/sh\ntouch "$SWARM_DONE"\n')
    os.chmod(os.path.join(args.work, "on-complete.sh"), 0o755)
    torrent = os.path.join(args.work, "game.torrent")
    with open(torrent, "wb") as f:
        f.write(make_torrent(args.file, args.tracker))
    host, port = args.tracker.split(":")
    server = http.server.ThreadingHTTPServer((host, int(port)), Tracker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ns, addr = split(args.seeder)
    seed_dir = os.path.dirname(args.file)
    seeder, _ = start_aria2(args, "btseed", ns, addr, torrent, seed_dir, True)
    try:
        # The seeder announces first, so every downloader's first answer names it.
        while not any(Tracker.swarm.values()):
            time.sleep(0.05)
        alone = run_bittorrent(args, args.downloader[:1], torrent)
        with Tracker.lock:
            for peers in Tracker.swarm.values():
                peers.intersection_update({(split(args.seeder)[1], 6881)})
        every = run_bittorrent(args, args.downloader, torrent)
    finally:
        seeder.terminate()
        seeder.wait()
        server.shutdown()
    print("RESULT alone=%.3f all=%.3f" % (alone, every), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["lanspread", "bittorrent"])
    p.add_argument("--bin")
    p.add_argument("--work", required=True)
    p.add_argument("--seeder", required=True)
    p.add_argument("--downloader", action="append", required=True)
    p.add_argument("--file")
    p.add_argument("--tracker")
    p.add_argument("--no-swarm", action="store_true")
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    if args.mode == "lanspread":
        cmd_lanspread(args)
    else:
        cmd_bittorrent(args)


if __name__ == "__main__":
    main()
