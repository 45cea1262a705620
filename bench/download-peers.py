#!/usr/bin/env python3
"""Drives lanspread-peer serve processes for bench/run-download.sh.

Seeders serve a games folder; a fresh downloader (its own empty games
folder, the seeders' catalog) fetches one game from all of them.

  download-peers.py download --bin PEER --work DIR --seeder GAMES [...] [--runs N]
      One RESULT line per run: bytes, wall seconds (from writing
      "download ID" to reading "download-done"), CPU seconds of the
      seeders and of the downloader over that span, the downloader's
      VmHWM in KiB, and bytes per source.
      With --between CMD, CMD runs after each run (its output passes
      through): a reference measured alternately with ours.
      With --base GAMES the downloader starts with GAMES's copy of the game
      (an older version): the download is an update, and the line also has
      the bytes reused from it.
  download-peers.py cancel --bin PEER --work DIR --seeder GAMES [--repeat N]
      Starts a download, waits for bytes_done > 0, writes "cancel ID" and
      times the wait for "download-cancelled"; one CANCEL line per repeat.

A seeder is GAMES (on loopback, a port the kernel picks) or
GAMES@NETNS@ADDR (run under `ip netns exec NETNS`, on ADDR:PORT, --port).
Every process gets --no-mdns.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lspeers import TIMEOUT, Peer, cpu_of, die, hwm_kib  # noqa: E402


def start_seeders(args):
    seeders = []
    for i, spec in enumerate(args.seeder):
        parts = spec.split("@")
        games = parts[0]
        state = os.path.join(args.work, "seeder%d-state" % i)
        os.makedirs(state, exist_ok=True)
        argv = [args.bin, "serve", "--games", games, "--state-dir", state, "--no-mdns"]
        if len(parts) == 3:
            argv = ["ip", "netns", "exec", parts[1]] + argv + ["--port", str(args.netns_port)]
        if args.upload_rate:
            argv += ["--upload-rate", str(args.upload_rate)]
        seeders.append((Peer("seeder%d" % i, argv, args.work), parts))
    deadline = time.monotonic() + TIMEOUT
    result = []
    for peer, parts in seeders:
        _, ready = peer.wait_for("ready", deadline)
        if len(parts) == 3:
            address = "%s:%d" % (parts[2], args.netns_port)
        else:
            address = "127.0.0.1:%d" % ready["port"]
        peer.peer_id = ready["peer_id"]
        peer.address = address
        if args.lossy:
            peer.address = start_relay(args, peer, address)
        result.append(peer)
    return result


def stop_seeders(seeders):
    for s in seeders:
        s.quit()
        if getattr(s, "relay", None) is not None:
            s.relay.kill()
            s.relay.wait()


def start_relay(args, seeder, address):
    """bench/lossy-relay.py in front of a seeder; the downloader dials it."""
    loss, delay = args.lossy.split(",")
    relay = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                           "lossy-relay.py"),
                              address, "--loss", loss, "--delay", delay],
                             stdout=subprocess.PIPE)
    seeder.relay = relay
    line = relay.stdout.readline().decode().split()
    if len(line) != 2 or line[0] != "READY":
        die("the lossy relay did not start")
    return "127.0.0.1:%s" % line[1]


def start_downloader(args, seeders, run):
    games = os.path.join(args.work, "dl%d-games" % run)
    state = os.path.join(args.work, "dl%d-state" % run)
    shutil.rmtree(games, ignore_errors=True)
    os.makedirs(games)
    os.makedirs(state, exist_ok=True)
    shutil.copy(os.path.join(args.seeder[0].split("@")[0], "catalog.json"), games)
    if args.base:
        shutil.copytree(os.path.join(args.base, args.game), os.path.join(games, args.game))
    argv = [args.bin, "serve", "--games", games, "--state-dir", state, "--no-mdns"]
    for s in seeders:
        argv += ["--peer", s.address]
    peer = Peer("downloader%d" % run, argv, args.work)
    peer.games = games

    # Ready, and the game seen at every seeder.
    deadline = time.monotonic() + TIMEOUT
    missing = {s.peer_id for s in seeders}
    ready = False
    while missing or not ready:
        _, event = peer.next_event(deadline)
        if event["event"] == "ready":
            ready = True
        elif event["event"] == "peer-games-changed" and args.game in event.get("changed", []):
            missing.discard(event["peer_id"])
    return peer


def verify(args, downloaded):
    """Same file names and sizes as the source (chunks were hashed as they came)."""
    src = os.path.join(args.seeder[0].split("@")[0], args.game)
    for root, _, files in os.walk(src):
        for name in files:
            if name == "version.ini":  # written by the downloader from the manifest
                continue
            a = os.path.join(root, name)
            b = os.path.join(downloaded, os.path.relpath(a, src))
            if not os.path.exists(b) or os.path.getsize(a) != os.path.getsize(b):
                die("downloaded copy differs from the source at %s" % os.path.relpath(a, src))


def cmd_download(args):
    seeders = start_seeders(args)
    try:
        for run in range(args.runs):
            dl = start_downloader(args, seeders, run)
            try:
                s_cpu0 = sum(cpu_of(s.pid) for s in seeders)
                d_cpu0 = cpu_of(dl.pid)
                t0 = time.monotonic()
                dl.send("download " + args.game)
                # Progress on the way: when the first bytes landed, and the
                # rate between 10% and 90% (steady state, without start and end).
                first = mid = None
                mid_rate = 0.0
                while True:
                    t1, done = dl.next_event(t0 + TIMEOUT)
                    kind = done["event"]
                    if kind not in ("download-progress", "download-done"):
                        continue
                    got, total = done.get("bytes_done", 0), done.get("bytes_total", 0)
                    if got > 0 and first is None:
                        first = t1
                    if total and got >= total / 10 and mid is None:
                        mid = (t1, got)
                    if total and got >= total * 9 / 10 and not mid_rate and mid and t1 > mid[0]:
                        mid_rate = (got - mid[1]) / (t1 - mid[0])
                    if kind == "download-done":
                        break
                s_cpu1 = sum(cpu_of(s.pid) for s in seeders)
                d_cpu1 = cpu_of(dl.pid)
                hwm = hwm_kib(dl.pid)
            finally:
                dl.quit()
            verify(args, os.path.join(dl.games, args.game))
            names = {s.peer_id: "s%d" % i for i, s in enumerate(seeders)}
            per_peer = ",".join("%s:%d" % (names.get(k, k[:8]), v)
                                for k, v in sorted(done.get("peers", {}).items(),
                                                   key=lambda kv: names.get(kv[0], kv[0])))
            print("RESULT bytes=%d received=%d reused=%d wall=%.3f first_byte=%.3f mid_mbps=%.1f"
                  " seed_cpu=%.2f dl_cpu=%.2f hwm_kib=%d peers=%s"
                  % (done["bytes_total"], done["bytes_received"], done.get("bytes_reused", 0), t1 - t0,
                     (first or t1) - t0, mid_rate / 1e6, s_cpu1 - s_cpu0, d_cpu1 - d_cpu0, hwm, per_peer),
                  flush=True)
            shutil.rmtree(dl.games, ignore_errors=True)
            if args.between:
                subprocess.run(args.between, shell=True, check=True)
                sys.stdout.flush()
    finally:
        stop_seeders(seeders)


def cmd_cancel(args):
    seeders = start_seeders(args)
    try:
        dl = start_downloader(args, seeders, 0)
        game_dir = os.path.join(dl.games, args.game)
        try:
            for _ in range(args.repeat):
                deadline = time.monotonic() + TIMEOUT
                dl.send("download " + args.game)
                dl.wait_for("download-progress", deadline, lambda e: e.get("bytes_done", 0) > 0)
                t0 = time.monotonic()
                dl.send("cancel " + args.game)
                t1, _ = dl.wait_for("download-cancelled", deadline)
                clean = not os.path.exists(game_dir)
                print("CANCEL ms=%.1f clean=%s" % ((t1 - t0) * 1000, "yes" if clean else "no"), flush=True)
        finally:
            dl.quit()
    finally:
        stop_seeders(seeders)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["download", "cancel"])
    p.add_argument("--bin", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--seeder", action="append", required=True)
    p.add_argument("--upload-rate", type=float, default=0, help="the seeders' --upload-rate, MB/s")
    p.add_argument("--netns-port", type=int, default=7610)
    p.add_argument("--game", default="big")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--base", help="GAMES: the downloader starts with this folder's copy of the game")
    p.add_argument("--between", help="a shell command run after each run (a reference measured alternately"
                   " with ours, so both meet the same machine); its output passes through")
    p.add_argument("--lossy", help="LOSS,DELAY: reach each seeder through bench/lossy-relay.py")
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    if args.mode == "download":
        cmd_download(args)
    else:
        cmd_cancel(args)


if __name__ == "__main__":
    main()
