"""lanspread-peer serve processes driven from Python: the benchmarks' and
the soak's common part. A Peer writes commands to a process's stdin and a
thread reads its JSON events."""

import json
import os
import queue
import subprocess
import sys
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
TIMEOUT = float(os.environ.get("DOWNLOAD_BENCH_TIMEOUT", "300"))
FATAL_EVENTS = ("error", "download-failed")


def die(message):
    print("%s: %s" % (os.path.basename(sys.argv[0]), message), file=sys.stderr)
    sys.exit(1)


def cpu_of(pid):
    """User + system CPU seconds of a process (and its reaped children)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime..cstime are fields 14..17.
    return sum(int(x) for x in fields[11:15]) / CLK_TCK


def hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class Peer:
    """One lanspread-peer serve process; a thread reads its events."""

    def __init__(self, name, argv, log_dir, fatal_events=FATAL_EVENTS):
        self.name = name
        self.fatal_events = fatal_events
        self.log = open(os.path.join(log_dir, name + ".err"), "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, bufsize=0)
        self.pid = self.proc.pid
        self.events = queue.Queue()
        self.log_dir = log_dir
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            now = time.monotonic()
            try:
                event = json.loads(line)
            except ValueError:
                continue
            self.events.put((now, event))
        self.events.put((time.monotonic(), None))

    def send(self, command):
        self.proc.stdin.write((command + "\n").encode())
        self.proc.stdin.flush()

    def next_event(self, deadline):
        """The next (time read, event); dies on EOF or at the deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            die("%s: timed out waiting for events" % self.name)
        try:
            when, event = self.events.get(timeout=left)
        except queue.Empty:
            die("%s: timed out waiting for events" % self.name)
        if event is None:
            self.proc.wait()
            self.log.flush()
            with open(os.path.join(self.log_dir, self.name + ".err"), "rb") as f:
                sys.stderr.write(f.read().decode(errors="replace")[-2000:])
            die("%s exited (status %s)" % (self.name, self.proc.returncode))
        if event.get("event") in self.fatal_events:
            die("%s: %s" % (self.name, json.dumps(event)))
        return when, event

    def wait_for(self, name, deadline, accept=lambda e: True):
        while True:
            when, event = self.next_event(deadline)
            if event.get("event") == name and accept(event):
                return when, event

    def quit(self):
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


