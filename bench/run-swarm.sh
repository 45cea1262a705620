#!/bin/sh
# A LAN party in network namespaces: one seeder whose link `tc` limits to
# R (SWARM_BENCH_MBIT, 200 Mbit/s), SWARM_BENCH_PEERS (8) downloaders with
# unlimited links, one game of SWARM_BENCH_MIB (256) MiB, all on one
# bridge. Prints the time until every downloader is done as a ratio to the
# time one downloader alone takes from the same seeder in the same run
# (target <= 1.5), the same with every peer run --no-swarm (complete
# copies only: about the number of downloaders),
# and what each downloader got from the seeder and from the others. The
# reference, in the same set-up and run: aria2c as BitTorrent peers (the
# seeder and the downloaders) with a minimal tracker
# (bench/swarm-peers.py). Skips, saying why, where `ip netns` is not
# permitted. Every peer runs with --no-mdns; nothing leaves the namespaces
# and the bridge it creates.
set -eu
build_dir=$(cd "${1:?usage: run-swarm.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
peer_bin=$build_dir/src/cli/lanspread-peer
rate_mbit=${SWARM_BENCH_MBIT:-200}
n_peers=${SWARM_BENCH_PEERS:-8}
size_mib=${SWARM_BENCH_MIB:-256}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lanspread-bench-swarm.XXXXXX")
tag=lsw$$
bridge=${tag}br
netns_list=
cleanup() {
  for ns in $netns_list; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  ip link del "$bridge" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$here/common.sh"

echo "-- one seeder limited to R = $rate_mbit Mbit/s, $n_peers downloaders, a $size_mib MiB game"
if ! need ip iproute2 || ! need tc iproute2; then
  echo "skipped: ip/tc (iproute2) not available"; exit 0
fi
if ip route show | grep -q '^10\.78\.'; then
  echo "skipped: 10.78.0.0/16 is already routed on this machine"; exit 0
fi
if ! err=$(ip netns add "${tag}probe" 2>&1); then
  echo "skipped: cannot create network namespaces (ip netns add: $err)"; exit 0
fi
ip netns del "${tag}probe"

ip link add "$bridge" type bridge
ip addr add 10.78.0.1/24 dev "$bridge"
ip link set "$bridge" up
# join N LIMIT: namespace N on the bridge as 10.78.0.(10+N), its egress
# limited to R when LIMIT is "limited".
join() {
  ns=${tag}n$1; a=${tag}a$1; b=${tag}b$1
  ip netns add "$ns"; netns_list="$netns_list $ns"
  ip link add "$a" type veth peer name "$b"
  ip link set "$a" master "$bridge" up
  ip link set "$b" netns "$ns"
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ip addr add "10.78.0.$((10 + $1))/24" dev "$b"
  ip netns exec "$ns" ip link set "$b" up
  if [ "$2" = limited ]; then
    ip netns exec "$ns" tc qdisc add dev "$b" root tbf rate "${rate_mbit}mbit" burst 256kb latency 50ms
  fi
}
join 0 limited
downloaders=
i=1
while [ $i -le "$n_peers" ]; do
  join $i unlimited
  downloaders="$downloaders --downloader ${tag}n$i@10.78.0.$((10 + i))"
  i=$((i + 1))
done

mkdir -p "$tmp/seed/big"
echo '{"games":[{"id":"big","name":"Big","launch":"bin/big","max_players":8}]}' > "$tmp/seed/catalog.json"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$tmp/seed/big/big.eti"
echo 1.0 > "$tmp/seed/big/version.ini"
chmod -R a+rX "$tmp"

# ratio LABEL RESULT_LINE TARGET
ratio() {
  alone=$(echo "$2" | sed -n 's/.* alone=\([^ ]*\).*/\1/p')
  all=$(echo "$2" | sed -n 's/.* all=\([^ ]*\).*/\1/p')
  awk -v l="$1" -v a="$alone" -v b="$all" -v n="$n_peers" -v t="$3" \
    'BEGIN { printf "%-34s alone %6.1f s, %d together %6.1f s: ratio %.2f (%s)\n", l, a, n, b, b / a, t }'
}

# shellcheck disable=SC2086
python3 "$here/swarm-peers.py" lanspread --bin "$peer_bin" --work "$tmp/ours" \
  --seeder "$tmp/seed@${tag}n0@10.78.0.10" $downloaders > "$tmp/ours.out" || {
  echo "the lanspread swarm failed"; exit 1; }
ratio "lanspread" "$(grep '^RESULT' "$tmp/ours.out")" "target <= 1.5"
awk '/^PEER/ { s = $3; o = $4; sub(/seeder=/, "", s); sub(/others=/, "", o)
  printf "  %s: %5.1f MiB from the seeder, %5.1f MiB from the other downloaders\n", $2, s / 1048576, o / 1048576 }' \
  "$tmp/ours.out"

# shellcheck disable=SC2086
python3 "$here/swarm-peers.py" lanspread --no-swarm --bin "$peer_bin" --work "$tmp/whole" \
  --seeder "$tmp/seed@${tag}n0@10.78.0.10" $downloaders > "$tmp/whole.out" || {
  echo "the lanspread download without swarming failed"; exit 1; }
ratio "lanspread --no-swarm" "$(grep '^RESULT' "$tmp/whole.out")" "complete copies only: ~$n_peers"

if need aria2c aria2; then
  # shellcheck disable=SC2086
  if python3 "$here/swarm-peers.py" bittorrent --work "$tmp/bt" --file "$tmp/seed/big/big.eti" \
       --seeder "${tag}n0@10.78.0.10" $downloaders --tracker 10.78.0.1:6969 > "$tmp/bt.out"; then
    ratio "BitTorrent (aria2c, 1 MiB pieces)" "$(grep '^RESULT' "$tmp/bt.out")" "the reference to beat"
  else
    echo "the BitTorrent reference failed"
  fi
else
  echo "BitTorrent reference skipped: aria2c not available"
fi
