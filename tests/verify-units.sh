#!/bin/sh
# Fails when systemd-analyze has anything to say about the user units.
# Usage: verify-units.sh SERVICE SOCKET; LANSPREAD_PEER names the built
# program, standing in for the installed one that ExecStart= names.
set -eu
service=$1 socket=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -m 700 "$dir/run"
sed "s|^ExecStart=[^ ]*/lanspread-peer |ExecStart=$LANSPREAD_PEER |" "$service" > "$dir/lanspread-peer.service"
cp "$socket" "$dir/lanspread-peer.socket"
grep -q "^ExecStart=$LANSPREAD_PEER " "$dir/lanspread-peer.service"
status=0
XDG_RUNTIME_DIR="$dir/run" systemd-analyze verify --user --man=no \
  "$dir/lanspread-peer.service" "$dir/lanspread-peer.socket" > "$dir/out" 2>&1 || status=$?
cat "$dir/out"
[ "$status" -eq 0 ] && [ ! -s "$dir/out" ]
