#!/bin/sh
# Game downloads between lanspread-peer serve processes (driven by
# bench/download-peers.py), against references measured in the same run:
#   1. one source over loopback, a 1 GiB game of four files, to disk and
#      verified: beside our raw QUIC transport (bench-quic-throughput) and
#      nginx + curl to disk followed by sha256sum; peak RSS for 1 GiB and
#      for 256 MiB
#   2. three sources, each in its own network namespace behind a veth pair
#      whose egress is limited to R = 300 Mbit/s: our aggregate against 3R
#      and against aria2c splitting the same files over three nginx mirrors
#      (and one TCP stream over one link, for the ceiling a link allows)
#   3. cancel latency: "cancel" written to "download-cancelled" read, with
#      the partial files gone by then
# Each figure is printed with its target. Skips the namespaces part, saying
# why, where `ip netns` is not permitted. Sends nothing beyond loopback and
# the namespaces it creates; every peer runs with --no-mdns.
# DOWNLOAD_BENCH_RUNS (3), DOWNLOAD_BENCH_NETNS_RUNS (2) and
# DOWNLOAD_BENCH_CANCELS (20) set the repeats.
set -eu
build_dir=$(cd "${1:?usage: run-download.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
peer_bin=$build_dir/src/cli/lanspread-peer
runs=${DOWNLOAD_BENCH_RUNS:-3}
netns_runs=${DOWNLOAD_BENCH_NETNS_RUNS:-2}
cancels=${DOWNLOAD_BENCH_CANCELS:-20}
rate_mbit=300

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lanspread-bench-download.XXXXXX")
server_pids=
netns_list=
veth_list=
cleanup() {
  for pid in $server_pids; do kill "$pid" 2>/dev/null || true; done
  for pid in $server_pids; do wait "$pid" 2>/dev/null || true; done
  for veth in $veth_list; do ip link del "$veth" 2>/dev/null || true; done
  for ns in $netns_list; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$(dirname "$0")/common.sh"

# Field NAME=value of a RESULT line.
field() { echo "$2" | sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

# The RESULT line with the shortest wall time.
best_result() { awk '/^RESULT bytes=/ { w = $0; sub(/.* wall=/, "", w); sub(/ .*/, "", w); print w, $0 }' | sort -n | head -1 | cut -d' ' -f2-; }

# "runs: A B C MB/s; best: first progress after N ms, M MB/s from 10% to 90%"
# (progress events come at most every 250 ms)
# from a file of RESULT lines and its best line.
detail() {
  all=$(awk '/^RESULT bytes=/ { b = $0; w = $0; sub(/.* bytes=/, "", b); sub(/ .*/, "", b)
    sub(/.* wall=/, "", w); sub(/ .*/, "", w); printf " %.0f", b / w / 1e6 }' "$1")
  awk -v all="$all" -v f="$(field first_byte "$2")" -v m="$(field mid_mbps "$2")" \
    'BEGIN { printf "  runs:%s MB/s; best: first progress after %.0f ms, %.0f MB/s from 10%% to 90%%\n", all, f * 1000, m }'
}

# mkgame DIR FILE:PATH...: games folder DIR with the game "big" made of
# hard links to the data files (one copy in the page cache); version.ini last.
mkgame() {
  dir=$1; shift
  mkdir -p "$dir/big"
  echo '{"games":[{"id":"big","name":"Big","launch":"bin/big","max_players":8}]}' > "$dir/catalog.json"
  for spec in "$@"; do
    mkdir -p "$(dirname "$dir/big/${spec#*:}")"
    ln "$tmp/data/${spec%%:*}" "$dir/big/${spec#*:}"
  done
  echo 1.0 > "$dir/big/version.ini"
  chmod -R a+rX "$dir"
}

# nginx_conf DIR LISTEN ROOT: an nginx config serving ROOT with sendfile.
nginx_conf() {
  mkdir -p "$1/logs"
  cat > "$1/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $1/nginx.pid;
error_log $1/logs/error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $1/body;
  proxy_temp_path $1/proxy;
  fastcgi_temp_path $1/fastcgi;
  uwsgi_temp_path $1/uwsgi;
  scgi_temp_path $1/scgi;
  server {
    listen $2;
    root $3;
  }
}
CONF
}

# wait_http URL: until a server answers there.
wait_http() {
  for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    curl -s -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "no server at $1"; return 1
}

peers() { python3 "$here/download-peers.py" "$@" --bin "$peer_bin"; }

if ! need /usr/bin/time time; then
  echo "/usr/bin/time is missing (package time): cannot measure the references' CPU"
  exit 1
fi
chmod 755 "$tmp"
mkdir -p "$tmp/data"
for f in big:512 part2:256 part3:192 part4:64 extra:256; do
  head -c "${f#*:}M" /dev/urandom > "$tmp/data/${f%%:*}.eti"
done
mkgame "$tmp/seed1g" big.eti:big.eti part2.eti:data/part2.eti part3.eti:data/part3.eti part4.eti:data/part4.eti
mkgame "$tmp/seed256" part2.eti:big.eti
files_1g="big.eti data/part2.eti data/part3.eti data/part4.eti"

# ---------------------------------------------------------------------------
echo "-- one source over loopback: 1 GiB game (4 files), to disk, SHA-256 verified"

# Both references run between our runs, so that all three meet the machine
# as it is at the time (on a shared host it is not the same for long).
between="'$build_dir/bench/bench-quic-throughput' --size 1073741824"
nginx_pid=
if need nginx nginx-light && need curl curl; then
  port=$(free_port)
  nginx_conf "$tmp/nginx0" "127.0.0.1:$port" "$tmp/seed1g"
  nginx -p "$tmp/nginx0" -c "$tmp/nginx0/nginx.conf" -e "$tmp/nginx0/logs/error.log" &
  nginx_pid=$!; server_pids="$server_pids $nginx_pid"
  if wait_http "http://127.0.0.1:$port/catalog.json"; then
    between="$between && sh '$here/curl-sha256.sh' $nginx_pid http://127.0.0.1:$port/big '$tmp/curl' $files_1g"
  else
    echo "nginx did not start: the curl + sha256sum reference is skipped"
  fi
else
  echo "nginx/curl not available: the curl + sha256sum reference is skipped"
fi
peers download --work "$tmp/p1" --seeder "$tmp/seed1g" --runs "$runs" --between "$between" > "$tmp/ours1" || {
  echo "our download failed"; exit 1; }
if [ -n "$nginx_pid" ]; then
  kill "$nginx_pid" 2>/dev/null || true; wait "$nginx_pid" 2>/dev/null || true; server_pids=
fi
ours=$(best_result < "$tmp/ours1")
bytes=$(field bytes "$ours"); wall=$(field wall "$ours")
ours_mbps=$(awk "BEGIN { printf \"%.0f\", $bytes / $wall / 1e6 }")
gib=$(awk "BEGIN { print $bytes / 1073741824 }")
awk -v l="lanspread download (best of $runs)" -v m="$ours_mbps" -v s="$(field seed_cpu "$ours")" \
    -v d="$(field dl_cpu "$ours")" -v g="$gib" \
    'BEGIN { printf "%-46s %7.0f MB/s  %5.2f CPU s/GiB (seeder %.2f + downloader %.2f)\n", l, m, (s + d) / g, s / g, d / g }'
detail "$tmp/ours1" "$ours"
max_hwm() { sed -n 's/.* hwm_kib=\([0-9]*\).*/\1/p' "$1" | sort -n | tail -1; }
hwm_1g=$(max_hwm "$tmp/ours1")

raw_mbps=0; raw_cpu=0
for line in $(sed -n 's/^RESULT mbps=\([0-9.]*\) cpu_per_gib=\([0-9.]*\).*/\1:\2/p' "$tmp/ours1"); do
  mbps=${line%%:*}; cpu=${line#*:}
  if awk "BEGIN { exit !($mbps > $raw_mbps) }"; then raw_mbps=$mbps; raw_cpu=$cpu; fi
done
printf '%-46s %7.0f MB/s  %5.2f CPU s/GiB (to /dev/null)\n' "raw QUIC transport (best of $runs)" "$raw_mbps" "$raw_cpu"

curl_mbps=
best_curl=$(sed -n 's/^CURL wall=\([0-9.]*\) cpu=\([0-9.]*\)$/\1 \2/p' "$tmp/ours1" | sort -n | head -1)
if [ -n "$best_curl" ]; then
  curl_mbps=$(echo "$best_curl" | awk -v b="$bytes" '{ printf "%.0f", b / $1 / 1e6 }')
  echo "$best_curl" | awk -v m="$curl_mbps" -v g="$gib" -v l="curl from nginx, then sha256sum (best of $runs)" \
    '{ printf "%-46s %7.0f MB/s  %5.2f CPU s/GiB (no fsync)\n", l, m, $2 / g }'
fi

peers download --work "$tmp/p256" --seeder "$tmp/seed256" --runs "$runs" > "$tmp/ours256" || {
  echo "our 256 MiB download failed"; exit 1; }
r256=$(best_result < "$tmp/ours256")
hwm_256=$(max_hwm "$tmp/ours256")
mbps_256=$(awk "BEGIN { printf \"%.0f\", $(field bytes "$r256") / $(field wall "$r256") / 1e6 }")
printf '%-46s %7.0f MB/s\n' "lanspread download, 256 MiB game (best of $runs)" "$mbps_256"
awk -v a="$hwm_1g" -v b="$hwm_256" -v l="downloader peak RSS (VmHWM, max of $runs)" \
  'BEGIN { printf "%-46s %7.1f MiB (1 GiB game)  %.1f MiB (256 MiB game)\n", l, a / 1024, b / 1024 }'
awk "BEGIN { printf \"ratio peak RSS 1 GiB / 256 MiB game: %.2fx (target ~1x: memory independent of game size)\n\", $hwm_1g / $hwm_256 }"
[ -n "$curl_mbps" ] && awk "BEGIN { printf \"ratio ours / curl+sha256sum: %.2fx (target >= 2x)\n\", $ours_mbps / $curl_mbps }"
awk "BEGIN { printf \"ratio ours / raw QUIC transport: %.2fx (target >= 0.5x)\n\", $ours_mbps / $raw_mbps }"

# ---------------------------------------------------------------------------
echo
echo "-- three sources, each in a network namespace, egress limited to R = $rate_mbit Mbit/s"

three_sources() {
  if ! need ip iproute2 || ! need tc iproute2; then
    echo "skipped: ip/tc (iproute2) not available"; return 0
  fi
  if ip route show | grep -q '^10\.77\.'; then
    echo "skipped: 10.77.0.0/16 is already routed on this machine"; return 0
  fi
  tag=lsb$$
  probe=${tag}probe
  if ! err=$(ip netns add "$probe" 2>&1); then
    echo "skipped: cannot create network namespaces (ip netns add: $err)"; return 0
  fi
  ip netns del "$probe"
  seeders=; mirrors=
  for n in 1 2 3; do
    ns=${tag}n$n; a=${tag}a$n; b=${tag}b$n
    ip netns add "$ns"; netns_list="$netns_list $ns"
    ip link add "$a" type veth peer name "$b"; veth_list="$veth_list $a"
    ip link set "$b" netns "$ns"
    ip addr add "10.77.$n.1/24" dev "$a"
    ip link set "$a" up
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip addr add "10.77.$n.2/24" dev "$b"
    ip netns exec "$ns" ip link set "$b" up
    ip netns exec "$ns" tc qdisc add dev "$b" root tbf rate "${rate_mbit}mbit" burst 256kb latency 50ms
    mkgame "$tmp/seed3-$n" part2.eti:big.eti extra.eti:data/extra.eti
    seeders="$seeders --seeder $tmp/seed3-$n@$ns@10.77.$n.2"
    mirrors="$mirrors http://10.77.$n.2:8080/big"
  done

  line_rate=$(awk "BEGIN { print 3 * $rate_mbit * 1e6 / 8 }")
  # shellcheck disable=SC2086
  peers download --work "$tmp/p3" $seeders --runs "$netns_runs" > "$tmp/ours3" || {
    echo "our three-source download failed"; return 1; }
  r=$(best_result < "$tmp/ours3")
  b3=$(field bytes "$r")
  ours3=$(awk "BEGIN { print $b3 / $(field wall "$r") }")
  printf '%-46s %7.1f MB/s  %5.1f%% of 3R (target >= 90%%)  per source: %s\n' \
    "lanspread, 3 sources (best of $netns_runs)" "$(awk "BEGIN { print $ours3 / 1e6 }")" \
    "$(awk "BEGIN { print 100 * $ours3 / $line_rate }")" "$(field peers "$r")"
  detail "$tmp/ours3" "$r"

  if ! need aria2c aria2 || ! need nginx nginx-light; then
    echo "aria2c/nginx not available: the aria2c reference is skipped"; return 0
  fi
  for n in 1 2 3; do
    nginx_conf "$tmp/nginx$n" "10.77.$n.2:8080" "$tmp/seed3-$n"
    ip netns exec "${tag}n$n" nginx -p "$tmp/nginx$n" -c "$tmp/nginx$n/nginx.conf" -e "$tmp/nginx$n/logs/error.log" &
    server_pids="$server_pids $!"
  done
  for n in 1 2 3; do wait_http "http://10.77.$n.2:8080/catalog.json"; done

  # What one limited link carries for one TCP stream (goodput, after
  # Ethernet/IP/TCP headers), to read the figures above against.
  start=$(date +%s.%N)
  curl -sS --fail -o /dev/null -r 0-134217727 "http://10.77.1.2:8080/big/big.eti"
  end=$(date +%s.%N)
  link=$(awk "BEGIN { print 134217728 / ($end - $start) }")
  printf '%-46s %7.1f MB/s  %5.1f%% of R\n' "one link, curl, 128 MiB" \
    "$(awk "BEGIN { print $link / 1e6 }")" "$(awk "BEGIN { print 100 * $link / ($line_rate / 3) }")"

  : > "$tmp/aria2.list"
  for f in big.eti data/extra.eti; do
    uris=
    for m in $mirrors; do uris="$uris	$m/$f"; done
    printf '%s\n  out=%s\n' "${uris#	}" "$(basename "$f")" >> "$tmp/aria2.list"
  done
  best=
  i=0
  while [ $i -lt "$netns_runs" ]; do
    rm -rf "$tmp/aria2"; mkdir -p "$tmp/aria2"
    start=$(date +%s.%N)
    aria2c -q -x1 -s3 -j1 --file-allocation=falloc --allow-overwrite=true --auto-file-renaming=false \
      -d "$tmp/aria2" -i "$tmp/aria2.list" || { echo "aria2c failed"; return 1; }
    end=$(date +%s.%N)
    w=$(awk "BEGIN { print $end - $start }")
    if [ -z "$best" ] || awk "BEGIN { exit !($w < $best) }"; then best=$w; fi
    i=$((i + 1))
  done
  got=$(cat "$tmp/aria2"/* | wc -c)
  [ "$got" = "$b3" ] || echo "(aria2c wrote $got bytes, expected $b3)"
  aria=$(awk "BEGIN { print $b3 / $best }")
  printf '%-46s %7.1f MB/s  %5.1f%% of 3R (no hashing)\n' "aria2c -x1 -s3, 3 nginx mirrors (best of $netns_runs)" \
    "$(awk "BEGIN { print $aria / 1e6 }")" "$(awk "BEGIN { print 100 * $aria / $line_rate }")"
  awk "BEGIN { printf \"ratio ours / aria2c: %.2fx (target >= 1.0x)\n\", $ours3 / $aria }"
  for pid in $server_pids; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  server_pids=
  rm -rf "$tmp/aria2"
}
three_sources

# ---------------------------------------------------------------------------
echo
echo "-- cancel latency ($cancels cancels, seeder limited to 20 MB/s)"
peers cancel --work "$tmp/pc" --seeder "$tmp/seed1g" --upload-rate 20 --repeat "$cancels" > "$tmp/cancel" || {
  echo "the cancel benchmark failed"; exit 1; }
dirty=$(grep -c 'clean=no' "$tmp/cancel" || true)
sed -n 's/^CANCEL ms=\([0-9.]*\).*/\1/p' "$tmp/cancel" | sort -n | awk -v dirty="$dirty" '
  { v[NR] = $1 }
  END {
    median = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%-46s %7.1f ms median (target < 200 ms)  %.1f ms max\n", "cancel to download-cancelled", median, v[NR]
    printf "%-46s %7d of %d\n", "game folder left behind after cancel", dirty, NR
  }'
