#!/usr/bin/env python3
"""Fails when the lanspread-peer man page and the program disagree.

Usage: check-man.py MAN_PAGE CLI_SOURCE_DIR (LANSPREAD_PEER names the
program). Compares, both ways: the commands of `lanspread-peer help`, the
--options of each command's --help (and --version), the commands that
serve's `help` command lists, and the events that src/cli emits.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

man_path, cli_dir = sys.argv[1], sys.argv[2]
peer = os.environ["LANSPREAD_PEER"]
problems = []


def run(*args, stdin=None):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    result = subprocess.run([peer, *args], input=stdin, capture_output=True,
                            text=True, env=env, timeout=60)
    if result.returncode != 0:
        sys.exit(f"lanspread-peer {' '.join(args)} failed: {result.stderr}")
    return result.stdout


def compare(what, program, man):
    for name in sorted(program - man):
        problems.append(f"{what} {name!r} is printed by lanspread-peer but not in the man page")
    for name in sorted(man - program):
        problems.append(f"{what} {name!r} is in the man page but not printed by lanspread-peer")


# The man page: troff with \- for dashes and one .TP item per name.
with open(man_path, encoding="utf-8") as f:
    man_text = f.read().replace("\\-", "-")
sections = {}
current = None
lines = man_text.splitlines()
for i, line in enumerate(lines):
    if line.startswith(".SH"):
        current = line[3:].strip().strip('"')
        sections[current] = set()
    elif line == ".TP" and current is not None and i + 1 < len(lines):
        item = re.sub(r"\\f[BIRP]", "", lines[i + 1])
        words = item.split()
        if len(words) > 1 and words[0].startswith("."):
            sections[current].add(words[1].strip('",'))
# Options, leaving out the examples' other programs (systemctl --user).
man_options = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*",
                             re.sub(r"^\.SH EXAMPLES$.*?(?=^\.SH )", "", man_text,
                                    flags=re.M | re.S)))

# lanspread-peer help: its commands, and each command's options.
usage = run("help")
commands = set(re.findall(r"^  (\S+)\s", usage.split("Commands:", 1)[1], re.M))
compare("command", commands | {"help"}, sections.get("COMMANDS", set()))
options = set()
for command in commands:
    options |= set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", run(command, "--help")))
if run("--version").startswith("lanspread-peer "):
    options.add("--version")
compare("option", options, man_options)

# serve's own commands, from its help command.
with tempfile.TemporaryDirectory() as games:
    with open(os.path.join(games, "catalog.json"), "w") as f:
        f.write('{"games": []}')
    out = run("serve", "--games", games, "--no-mdns", "--state-dir",
              os.path.join(games, "state"), stdin="help\nquit\n")
serve_commands = set()
for line in out.splitlines():
    event = json.loads(line)
    if event["event"] == "help":
        serve_commands = {c["name"] for c in event["commands"]}
if not serve_commands:
    problems.append("serve printed no help event")
compare("serve command", serve_commands, sections.get("SERVE COMMANDS", set()))

# The events: every name src/cli passes to the functions that begin one.
events = set()
for name in os.listdir(cli_dir):
    if name.endswith(".c"):
        with open(os.path.join(cli_dir, name), encoding="utf-8") as f:
            source = f.read()
        for call in re.findall(r"\b(?:lsp_cli_event_begin|emit_download) \(([^;]*?)\)\s*;", source):
            events |= set(re.findall(r'"([a-z][a-z-]*)"', call))
if len(events) < 10:
    problems.append(f"found only {len(events)} events in {cli_dir}")
compare("event", events, sections.get("EVENTS", set()))

for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
