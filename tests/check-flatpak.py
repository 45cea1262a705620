#!/usr/bin/env python3
"""Static checks of the Flatpak manifest, for machines that cannot reach
Flathub to build it: it parses, names our application ID and a command the
build installs, pins every source by checksum or commit, and asks for the
permissions the app needs.

Usage: check-flatpak.py MANIFEST APP_ID EXECUTABLE...
"""

import json
import re
import sys

REQUIRED_FINISH_ARGS = {
    "--share=network",              # QUIC and mDNS to other players
    "--socket=wayland",
    "--socket=fallback-x11",
    "--system-talk-name=org.freedesktop.Avahi",  # discovery
}
SHA256 = re.compile(r"^[0-9a-f]{64}$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")


def check_source(module, source, problems):
    kind = source.get("type")
    where = f"module {module}"
    if kind in ("archive", "file"):
        if not str(source.get("url", "")).startswith("https://"):
            problems.append(f"{where}: {kind} source without an https URL")
        if not SHA256.match(str(source.get("sha256", ""))):
            problems.append(f"{where}: {kind} source without a sha256 checksum")
    elif kind == "git":
        if not COMMIT.match(str(source.get("commit", ""))):
            problems.append(f"{where}: git source not pinned to a commit")
    elif kind == "dir":
        if source.get("path") != "..":
            problems.append(f"{where}: a dir source other than this repository")
    else:
        problems.append(f"{where}: source type {kind!r} is not checked")


def main():
    manifest_path, app_id, *executables = sys.argv[1:]
    problems = []
    try:
        with open(manifest_path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        print(f"{manifest_path}: {e}")
        return 1

    if manifest.get("app-id") != app_id:
        problems.append(f"app-id is {manifest.get('app-id')!r}, the build's is {app_id!r}")
    if manifest.get("command") not in executables:
        problems.append(f"command {manifest.get('command')!r} is not one the build installs ({executables})")
    if manifest.get("runtime") != "org.gnome.Platform" or manifest.get("sdk") != "org.gnome.Sdk":
        problems.append("runtime and sdk must be org.gnome.Platform and org.gnome.Sdk")
    if not re.match(r"^\d+$", str(manifest.get("runtime-version", ""))):
        problems.append("runtime-version must be a GNOME release such as \"47\"")
    missing = REQUIRED_FINISH_ARGS - set(manifest.get("finish-args", []))
    if missing:
        problems.append(f"finish-args lack {sorted(missing)}")
    if any(arg in ("--filesystem=home", "--filesystem=host") for arg in manifest.get("finish-args", [])):
        problems.append("finish-args give the whole home or host; the games folder and the portal suffice")

    modules = manifest.get("modules", [])
    names = [m.get("name") for m in modules if isinstance(m, dict)]
    if not modules or names[-1] != "lanspread":
        problems.append("the last module must build lanspread itself")
    for module in modules:
        if not isinstance(module, dict):
            problems.append(f"module {module!r} is not an object")
            continue
        sources = module.get("sources", [])
        if not sources:
            problems.append(f"module {module.get('name')}: no sources")
        for source in sources:
            check_source(module.get("name"), source, problems)
    # What the runtime lacks and the build links against.
    for needed in ("ngtcp2", "avahi"):
        if needed not in names:
            problems.append(f"no module builds {needed}, which the GNOME runtime lacks")

    for problem in problems:
        print(f"{manifest_path}: {problem}")
    print("flatpak manifest: " + ("ok" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
