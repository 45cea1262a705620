#!/usr/bin/env python3
"""Crash soak for bench/run-soak.sh: kill -9 a peer at random instants of
download, install, update, uninstall and remove, restart it every time, and
check after each restart that the game settled to a consistent state and
that no player file was lost.

  soak.py --bin PEER --work DIR [--kills N] [--seed S] [--netns-seeder NS@ADDR]
  soak.py --bin PEER --work DIR --disk-full [--seed S]

Two seeders serve the same game, version 1.0 and version 2.0 (one of its two
archives changed). The victim walks the game's life over and over:
download 1.0, install, play (player files appear: a save, an edited config),
download 2.0 (an update of an installed game), update, uninstall, remove;
now and then a shipped file of the installed game goes missing and the
step is a repair.
Each step runs in a fresh victim process that is killed after a random
delay (most of the time; now and then the step is let finish), then the
victim is restarted and left to settle (startup recovery, a download's
resume) before the checks:

- downloaded: the payload is exactly one version's files, byte for byte;
- not downloaded: no payload left behind;
- installed: no staging or backup folder, no pending intent, the shipped
  files of the installed version, and the player's save and edited config
  (the config may have moved to NAME.lanspread-old by an update);
- the player's files are gone only after an uninstall that finished.

Prints one KILL line per kill and a SUMMARY line; exits 1 on the first
broken invariant, naming it.

With --disk-full, WORK/victim-games is a small file system (run-soak.sh
mounts a tmpfs of 160 MiB there) and 2.0 also ships DISK_FULL_ZEROS
of zeros as a gzipped tar, a few hundred KiB to download: 1.0 is installed
and played, 2.0 downloaded, and its update must fail for want of space
(the extraction outgrows the disk, past the free-space check that saw only
the compressed size), naming the cause, and lose nothing: 1.0 and the
player's files intact, 2.0's payload verified, after a restart too.
Prints a DISKFULL line.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import sys
import tarfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lspeers import Peer, die  # noqa: E402

GAME = "soak"
SETTLE_TIMEOUT = 180
# Player files, written into local/ once the game is installed.
SAVE = "saves/slot1.sav"
CONFIG = "config/settings.ini"
# First guesses of how long each step takes, in seconds; the kill lands
# anywhere in that span. Steps that run to their end, and kills that come
# after the end, correct the guess, so kills keep landing mid-step.
STEP_SPAN = {"download": 1.6, "install": 0.5, "update": 0.6, "uninstall": 0.15, "remove": 0.1, "repair": 0.3}
EMPTY = {"downloaded": False, "installed": False, "busy": False, "error": None}
TERMINAL = {"download": ("download-done",), "install": ("operation-done",), "update": ("operation-done",),
            "uninstall": ("operation-done",), "remove": ("removed",), "repair": ("repaired",)}
# A shipped file of the installed game that goes missing now and then (a
# crash mid-patch, an antivirus), so the walk has repairs too.
DAMAGED = "data/level.bin"
FAILED = ("download-failed", "operation-failed", "error")
# On the disk-full run's 160 MiB: each version's payload and install take
# 46 MiB, so after 1.0's install and 2.0's download some 60 MiB are free,
# enough for 2.0's tar but not for these zeros on top.
DISK_FULL_ZEROS = 96 * 1024 * 1024


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tar_of(files):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as t:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.startswith("bin/") else 0o644
            info.mtime = 1700000000
            t.addfile(info, io.BytesIO(data))
    return out.getvalue()


def write_zeros_tar_gz(path, name, size):
    """A tar of one file of zeros, gzipped as it is written."""
    header = tarfile.TarInfo(name)
    header.size = size
    header.mtime = 1700000000
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(header.tobuf(format=tarfile.USTAR_FORMAT))
        block = bytes(1 << 20)
        for _ in range(size // len(block)):
            f.write(block)
        f.write(bytes(size % len(block) + (-size) % 512 + 1024))


def make_versions(work, rng, disk_full=False):
    """Two games folders, one game each: 1.0 and 2.0. Returns the folders and,
    per version, the payload hashes and the shipped files of local/."""
    common = rng.randbytes(40 * 1024 * 1024)
    versions = {}
    folders = {}
    for version, extra in (("1.0", b"one"), ("2.0", b"two")):
        shipped = {
            "bin/soak": b"#!/bin/sh\nexit 0\n",
            "data/common.bin": common,
            "data/level.bin": rng.randbytes(6 * 1024 * 1024) + extra,
            CONFIG: b"[video]\nwidth=640\n# " + extra + b"\n",
        }
        folder = os.path.join(work, "seed-" + version)
        root = os.path.join(folder, GAME)
        os.makedirs(root)
        with open(os.path.join(folder, "catalog.json"), "w") as f:
            json.dump({"games": [{"id": GAME, "name": "Soak", "launch": "bin/soak", "max_players": 4}]}, f)
        # The big archive stays the same; the small one changes.
        with open(os.path.join(root, "a-data.eti"), "wb") as f:
            f.write(tar_of({"data/common.bin": common}))
        with open(os.path.join(root, "b-game.eti"), "wb") as f:
            f.write(tar_of({k: v for k, v in shipped.items() if k != "data/common.bin"}))
        archives = ["a-data.eti", "b-game.eti"]
        if disk_full and version == "2.0":
            write_zeros_tar_gz(os.path.join(root, "c-levels.eti"), "data/levels.bin", DISK_FULL_ZEROS)
            archives.append("c-levels.eti")
        with open(os.path.join(root, "version.ini"), "w") as f:
            f.write(version)
        payload = {name: sha(os.path.join(root, name)) for name in archives}
        versions[version] = {"payload": payload,
                             "shipped": {k: hashlib.sha256(v).hexdigest() for k, v in shipped.items()}}
        folders[version] = folder
    return folders, versions


def describe(game):
    parts = []
    if game["downloaded"]:
        parts.append("downloaded " + game["version"])
    if game["installed"]:
        parts.append("installed " + game["installed_version"])
    return ", ".join(parts) or "nothing"


class Soak:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.work = args.work
        self.games = os.path.join(self.work, "victim-games")
        self.state = os.path.join(self.work, "victim-state")
        self.seeders = {}
        self.player = None       # contents of the player's files, once written
        self.damaged = None      # the shipped file removed, until a repair restores it
        self.kills = 0
        self.mid_step = 0        # kills that landed before the step had ended
        self.steps = {}
        self.span = dict(STEP_SPAN)
        self.runs = 0

    # -- peers ------------------------------------------------------------

    def start_seeders(self, folders):
        for version, folder in folders.items():
            state = os.path.join(self.work, "seed-state-" + version)
            os.makedirs(state, exist_ok=True)
            argv = [self.args.bin, "serve", "--games", folder, "--state-dir", state, "--no-mdns"]
            address_host = "127.0.0.1"
            if version == "2.0" and self.args.netns_seeder:
                ns, address_host = self.args.netns_seeder.split("@")
                argv = ["ip", "netns", "exec", ns] + argv + ["--port", "41999"]
            peer = Peer("seeder-" + version, argv, self.work)
            _, ready = peer.wait_for("ready", time.monotonic() + 60)
            peer.address = "%s:%d" % (address_host, ready["port"])
            peer.peer_id = ready["peer_id"]
            self.seeders[version] = peer

    def start_victim(self, versions):
        self.runs += 1
        argv = [self.args.bin, "serve", "--games", self.games, "--state-dir", self.state, "--no-mdns",
                "--download-rate", "40", "--download-wait-seconds", "60"]
        for v in versions:
            argv += ["--peer", self.seeders[v].address]
        victim = Peer("victim", argv, self.work, fatal_events=())
        deadline = time.monotonic() + 60
        seen = set()
        ready = False
        while not ready or len(seen) < len(versions):
            _, event = victim.next_event(deadline)
            if event["event"] == "ready":
                ready = True
            elif event["event"] == "peer-games-changed" and GAME in event.get("changed", []):
                seen.add(event["peer_id"])
        return victim

    def settle(self, victim):
        """Until no download or operation runs (a resumed download finishes)."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            victim.send("status")
            _, status = victim.wait_for("status", deadline)
            if not status["operations"] and not status["downloads"] and not status["scanning"]:
                break
            while True:
                _, event = victim.next_event(deadline)
                if event["event"] in ("download-done", "download-cancelled", "operation-done",
                                      "library-changed"):
                    break
                if event["event"] in FAILED:
                    self.fail("a resumed step failed after a crash: %s" % json.dumps(event))
        victim.send("games")
        _, games = victim.wait_for("games", deadline)
        # A game without a folder is not listed: nothing of it is here.
        return next((g for g in games["games"] if g["id"] == GAME), EMPTY)

    def stop(self, victim):
        victim.quit()

    # -- checks -----------------------------------------------------------

    def fail(self, message):
        die("after %d kills: %s (victim files in %s)" % (self.kills, message, self.games))

    def check(self, game, versions, before, step):
        root = os.path.join(self.games, GAME)
        if game.get("busy") or game.get("error"):
            self.fail("the game did not settle: %s" % json.dumps(game))
        names = set(os.listdir(root)) if os.path.isdir(root) else set()
        payload = {n for n in names if n.endswith(".eti")}
        if game["downloaded"]:
            expected = versions[game["version"]]["payload"]
            if payload != set(expected):
                self.fail("version %s is downloaded with payload %s" % (game["version"], sorted(payload)))
            for name, digest in expected.items():
                if sha(os.path.join(root, name)) != digest:
                    self.fail("%s does not match version %s" % (name, game["version"]))
        elif payload or ".lanspread-download" in names:
            self.fail("not downloaded, but payload is left: %s" % sorted(names))
        for transient in (".local.installing", ".local.backup", ".version.ini.tmp", ".lanspread.json.tmp"):
            if transient in names:
                self.fail("%s is left after recovery" % transient)
        intent_path = os.path.join(root, ".lanspread.json")
        if os.path.exists(intent_path):
            with open(intent_path) as f:
                intent = json.load(f)
            if intent.get("intent", "None") != "None":
                self.fail("an intent is pending after recovery: %s" % intent)

        local = os.path.join(root, "local")
        if game["installed"] != os.path.isdir(local):
            self.fail("the library says installed=%s, but local/ %s" %
                      (game["installed"], "exists" if os.path.isdir(local) else "does not exist"))
        if game["installed"]:
            shipped = versions[game["installed_version"]]["shipped"]
            for name, digest in shipped.items():
                if name == CONFIG and self.player is not None:
                    continue
                path = os.path.join(local, name)
                if name == self.damaged:
                    if not os.path.exists(path):
                        continue  # not repaired yet: a repair that was killed before it put it back
                    self.damaged = None
                if not os.path.isfile(path) or sha(path) != digest:
                    self.fail("local/%s is not version %s's" % (name, game["installed_version"]))
            if self.player is not None:
                self.check_player_files(local)
        else:
            self.damaged = None
        if not game["installed"] and self.player is not None:
            if not (before["installed"] and step == "uninstall"):
                self.fail("the player's files are gone, and no uninstall finished")
            self.player = None

    def check_player_files(self, local):
        save, config = self.player
        path = os.path.join(local, SAVE)
        if not os.path.isfile(path) or open(path, "rb").read() != save:
            self.fail("the player's save %s was lost" % SAVE)
        kept = [p for p in (CONFIG, CONFIG + ".lanspread-old")
                if os.path.isfile(os.path.join(local, p)) and open(os.path.join(local, p), "rb").read() == config]
        if not kept:
            self.fail("the player's edited %s was lost" % CONFIG)

    def play(self, game):
        """The player saves and edits the config, once per install."""
        if not game["installed"] or self.player is not None:
            return
        local = os.path.join(self.games, GAME, "local")
        save = self.rng.randbytes(4096)
        config = b"[video]\nwidth=1920\n"
        os.makedirs(os.path.join(local, os.path.dirname(SAVE)), exist_ok=True)
        with open(os.path.join(local, SAVE), "wb") as f:
            f.write(save)
        with open(os.path.join(local, CONFIG), "wb") as f:
            f.write(config)
        self.player = (save, config)

    # -- the walk ---------------------------------------------------------

    def maybe_damage(self, game):
        """Whether the next step is a repair: now and then a shipped file of
        an installed game (downloaded in the same version) goes missing."""
        if (self.damaged is None and game["installed"] and game["downloaded"]
                and game["installed_version"] == game["version"] and self.rng.random() < 0.3):
            os.remove(os.path.join(self.games, GAME, "local", DAMAGED))
            self.damaged = DAMAGED
        return self.damaged is not None

    @staticmethod
    def next_step(game):
        if not game["downloaded"] and not game["installed"]:
            return "download"
        if game["installed"] and game["installed_version"] == "1.0":
            return "update" if game["downloaded"] and game["version"] == "2.0" else "download"
        if game["installed"]:
            return "uninstall"
        if game["version"] == "1.0":
            return "install"
        return "remove"

    @staticmethod
    def peers_for(game):
        """2.0 appears on the LAN once 1.0 is installed, so downloads of an
        installed game are updates."""
        return ["1.0", "2.0"] if game["installed"] else ["1.0"]

    def run(self):
        os.makedirs(self.games, exist_ok=True)
        shutil.copy(os.path.join(self.seeders["1.0"].folder, "catalog.json"), self.games)
        victim = self.start_victim(["1.0"])
        game = self.settle(victim)
        self.stop(victim)
        while self.kills < self.args.kills:
            before = game
            step = "repair" if self.maybe_damage(game) else self.next_step(game)
            peers = self.peers_for(game)
            victim = self.start_victim(peers)
            started = time.monotonic()
            victim.send("%s %s" % (step, GAME))
            self.steps[step] = self.steps.get(step, 0) + 1
            if self.rng.random() < 0.2:
                # Now and then a step runs to its end, so the walk goes on
                # even where kills keep landing early.
                self.wait_step(victim, step)
                self.span[step] = time.monotonic() - started
            else:
                delay = self.rng.uniform(0, self.span[step])
                time.sleep(delay)
                finished = self.drain_finished(victim, step)
                if finished:
                    self.span[step] = max(0.002, delay * 0.8)
                victim.proc.kill()
                victim.proc.wait()
                victim.log.close()
                self.kills += 1
                self.mid_step += 0 if finished else 1
                victim = self.start_victim(peers)
                print("KILL %d step=%s after=%.3f s %s" % (self.kills, step, delay,
                                                            "after-the-step" if finished else "mid-step"),
                      end=" ", flush=True)
            # A step killed mid-way may have finished all the same (recovery
            # rolls forward, a download resumes): the state now is what counts.
            game = self.settle(victim)
            self.stop(victim)
            print("-> %s" % describe(game), flush=True)
            self.check(game, self.versions, before, step)
            self.play(game)
        print("SUMMARY kills=%d mid_step=%d restarts=%d steps=%s"
              % (self.kills, self.mid_step, self.runs, json.dumps(self.steps, sort_keys=True)), flush=True)

    def run_step(self, victim, step):
        """Runs a step to its end: its terminal event, or the failure."""
        victim.send("%s %s" % (step, GAME))
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            _, event = victim.next_event(deadline)
            if event["event"] in TERMINAL[step] or event["event"] in FAILED:
                return event

    def disk_full(self):
        """1.0 installed and played, 2.0 downloaded; the update does not fit."""
        os.makedirs(self.games, exist_ok=True)
        shutil.copy(os.path.join(self.seeders["1.0"].folder, "catalog.json"), self.games)
        victim = self.start_victim(["1.0"])
        for step in ("download", "install"):
            event = self.run_step(victim, step)
            if event["event"] in FAILED:
                self.fail("%s of 1.0 failed: %s" % (step, json.dumps(event)))
        game = self.settle(victim)
        self.play(game)
        self.stop(victim)

        victim = self.start_victim(["1.0", "2.0"])
        event = self.run_step(victim, "download")
        if event["event"] in FAILED:
            self.fail("the download of 2.0 did not fit: %s" % json.dumps(event))
        before = self.settle(victim)
        free_before = shutil.disk_usage(self.games).free
        event = self.run_step(victim, "update")
        if event["event"] != "operation-failed":
            self.fail("the update of 2.0 should not fit, yet: %s" % json.dumps(event))
        reason = event.get("reason", "")
        if "space" not in reason.lower():
            self.fail("the update failed, but its reason does not say it is the disk space: %s" % reason)
        # The rescan after the failure reports nothing when nothing changed:
        # the next start shows the state instead.
        self.stop(victim)
        free_after = shutil.disk_usage(self.games).free
        victim = self.start_victim(["1.0", "2.0"])
        game = self.settle(victim)
        self.stop(victim)
        self.check(game, self.versions, before, "update")
        if not (game["installed"] and game["installed_version"] == "1.0" and game["downloaded"]
                and game["version"] == "2.0"):
            self.fail("after the failed update: %s, not installed 1.0 and downloaded 2.0" % describe(game))
        print("DISKFULL reason=%s" % json.dumps(reason, ensure_ascii=False), flush=True)
        print("DISKFULL free_before_update=%d free_after_rollback=%d state=%s"
              % (free_before >> 20, free_after >> 20, json.dumps(describe(game))), flush=True)

    def wait_step(self, victim, step):
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            _, event = victim.next_event(deadline)
            if event["event"] in TERMINAL[step]:
                return
            if event["event"] in FAILED:
                self.fail("%s failed: %s" % (step, json.dumps(event)))

    def drain_finished(self, victim, step):
        """Whether the step's end was reported before now."""
        finished = False
        while not victim.events.empty():
            _, event = victim.events.get_nowait()
            if event is not None and event.get("event") in TERMINAL[step]:
                finished = True
            if event is not None and event.get("event") in FAILED:
                self.fail("%s failed: %s" % (step, json.dumps(event)))
        return finished


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--netns-seeder", help="NS@ADDR: run the 2.0 seeder in network namespace NS")
    parser.add_argument("--disk-full", action="store_true",
                        help="the update that does not fit on WORK/victim-games, instead of the kills")
    args = parser.parse_args()
    soak = Soak(args)
    folders, soak.versions = make_versions(args.work, soak.rng, args.disk_full)
    soak.start_seeders(folders)
    soak.seeders["1.0"].folder = folders["1.0"]
    try:
        soak.disk_full() if args.disk_full else soak.run()
    finally:
        for peer in soak.seeders.values():
            peer.quit()


main()
