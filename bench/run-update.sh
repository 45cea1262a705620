#!/bin/sh
# An update between lanspread-peer serve processes over loopback (driven by
# bench/download-peers.py): a 1 GiB game of four 256 MiB archives, version
# 1.1 with one archive replaced, downloaded by a peer that has 1.0, against
# a full download of 1.1 by an empty peer in the same run, unthrottled and
# with the seeder held to a gigabit link's rate (--upload-rate 117). Prints the wall
# time (from "download big" to "download-done") and the payload bytes
# received, which is what crossed the wire less QUIC's framing; then what
# fixed 4 MiB chunks reuse against content-defined chunking for typical
# patches (bench/bench-chunk-reuse.c). UPDATE_BENCH_RUNS (3) sets the repeats.
set -eu
build_dir=$(cd "${1:?usage: run-update.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
peer_bin=$build_dir/src/cli/lanspread-peer
runs=${UPDATE_BENCH_RUNS:-3}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lanspread-bench-update.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# Field NAME=value of a RESULT line.
field() { echo "$2" | sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
# The RESULT line with the shortest wall time.
best_result() { awk '/^RESULT/ { w = $0; sub(/.* wall=/, "", w); sub(/ .*/, "", w); print w, $0 }' | sort -n | head -1 | cut -d' ' -f2-; }

# mkgame DIR VERSION ARCHIVE...: games folder DIR with the game "big".
mkgame() {
  dir=$1; version=$2; shift 2
  mkdir -p "$dir/big"
  echo '{"games":[{"id":"big","name":"Big","launch":"bin/big","max_players":8}]}' > "$dir/catalog.json"
  for name in "$@"; do
    cp "$tmp/data/$name" "$dir/big/${name%.new}"
  done
  echo "$version" > "$dir/big/version.ini"
}

mkdir -p "$tmp/data"
for name in part1.eti part2.eti part3.eti part4.eti part4.eti.new; do
  head -c 256M /dev/urandom > "$tmp/data/$name"
done
mkgame "$tmp/v10" 1.0 part1.eti part2.eti part3.eti part4.eti
mkgame "$tmp/v11" 1.1 part1.eti part2.eti part3.eti part4.eti.new

peers() { python3 "$here/download-peers.py" download --bin "$peer_bin" --seeder "$tmp/v11" --runs "$runs" "$@"; }

# compare LABEL ARGS...: the full download and the update, with ARGS for both.
compare() {
  label=$1; shift
  echo "-- 1 GiB game of four archives, one replaced, $label: update against a full download"
  peers --work "$tmp/full" "$@" > "$tmp/full.out" || { echo "the full download failed"; exit 1; }
  peers --work "$tmp/update" --base "$tmp/v10" "$@" > "$tmp/update.out" || { echo "the update failed"; exit 1; }
  full=$(best_result < "$tmp/full.out")
  update=$(best_result < "$tmp/update.out")
  for what in full update; do
    line=$(eval echo "\$$what")
    awk -v l="$what (best of $runs)" -v w="$(field wall "$line")" -v r="$(field received "$line")" \
        -v u="$(field reused "$line")" \
      'BEGIN { printf "%-22s %7.2f s  %7.1f MiB received  %7.1f MiB reused\n", l, w, r / 1048576, u / 1048576 }'
  done
  awk -v f="$(field wall "$full")" -v u="$(field wall "$update")" \
      -v fr="$(field received "$full")" -v ur="$(field received "$update")" \
    'BEGIN { printf "ratio update / full: %.2fx the time, %.2fx the bytes (target: bytes 0.25x, one archive of four)\n", u / f, ur / fr }'
}

compare "over loopback"
compare "at a gigabit link's rate" --upload-rate 117

echo "-- what fixed 4 MiB chunks reuse, against content-defined chunking"
"$build_dir/bench/bench-chunk-reuse"
