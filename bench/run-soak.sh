#!/bin/sh
# Robustness under crashes and bad links (not part of make test):
#   1. crash soak: SOAK_KILLS (100) kill -9 at random instants of download,
#      install, update, uninstall, remove and repair, a restart after each, and the
#      checks of bench/soak.py (consistent state, no player file lost)
#   2. a lossy link: one source behind bench/lossy-relay.py, 5% loss and
#      50 ms delay each way (a userspace relay, since kernels without netem
#      cannot shape a link); the download must complete, verified
#   3. disk full: the victim's games folder on a tmpfs of 160 MiB, where
#      2.0's download fits but its update (extraction) does not; the update
#      must fail naming the disk space and lose nothing (needs root to mount)
# Sends nothing beyond loopback.
set -eu
build_dir=$(cd "${1:?usage: run-soak.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
peer_bin=$build_dir/src/cli/lanspread-peer
kills=${SOAK_KILLS:-100}
seed=${SOAK_SEED:-$(date +%s)}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lanspread-bench-soak.XXXXXX")
# SOAK_KEEP=1 keeps the work folder (the victim's games) for a look after a failure.
cleanup() {
  if mountpoint -q "$tmp/diskfull/victim-games" 2>/dev/null; then
    umount "$tmp/diskfull/victim-games"
  fi
  if [ -n "${SOAK_KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$here/common.sh"

echo "-- crash soak: $kills kill -9 at random instants (seed $seed)"
mkdir -p "$tmp/soak"
python3 "$here/soak.py" --bin "$peer_bin" --work "$tmp/soak" --kills "$kills" --seed "$seed" > "$tmp/soak.log" || {
  tail -5 "$tmp/soak.log"; echo "the crash soak failed"; exit 1; }
awk '/^KILL/ { split($3, s, "="); all[s[2]]++; if ($0 ~ / mid-step /) mid[s[2]]++ }
     END { for (k in all) printf "  %-10s %3d kills, %3d of them mid-step\n", k, all[k], mid[k] }' "$tmp/soak.log" | sort
grep '^SUMMARY' "$tmp/soak.log" | sed 's/^SUMMARY /  /'
echo "  every restart settled consistently; no player file was lost"

echo
echo "-- lossy link: one source, 5% loss and 50 ms delay each way, 32 MiB game"
mkdir -p "$tmp/lossy/big"
echo '{"games":[{"id":"big","name":"Big","launch":"bin/big","max_players":8}]}' > "$tmp/lossy/catalog.json"
head -c 32M /dev/urandom > "$tmp/lossy/big/big.eti"
echo 1.0 > "$tmp/lossy/big/version.ini"
line=$(python3 "$here/download-peers.py" download --bin "$peer_bin" --work "$tmp/lossy-work" \
         --seeder "$tmp/lossy" --lossy 0.05,0.05 --runs 1 | grep '^RESULT') || {
  echo "the download over the lossy link failed"; exit 1; }
echo "$line" | awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
  printf "  completed and verified: %.1f MB in %.1f s = %.2f MB/s\n", v["bytes"] / 1e6, v["wall"], v["bytes"] / v["wall"] / 1e6 }'

echo
echo "-- disk full: the victim's games folder on a 160 MiB tmpfs; 2.0 downloads, its update does not fit"
mkdir -p "$tmp/diskfull/victim-games"
if ! mount -t tmpfs -o size=160m lanspread-soak "$tmp/diskfull/victim-games"; then
  echo "  skipped: cannot mount a tmpfs (run as root)"
  exit 0
fi
python3 "$here/soak.py" --bin "$peer_bin" --work "$tmp/diskfull" --disk-full --seed "$seed" > "$tmp/diskfull.log" || {
  tail -5 "$tmp/diskfull.log"; echo "the disk-full run failed"; exit 1; }
grep '^DISKFULL' "$tmp/diskfull.log" | sed 's/^DISKFULL /  /'
echo "  the update failed for want of space; 1.0, the player's files and 2.0's payload are intact"
