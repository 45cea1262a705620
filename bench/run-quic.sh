#!/bin/sh
# QUIC throughput over loopback: our transport against two references on
# the same 1 GiB of random data, each receiver discarding what it gets.
#   - TCP: nginx (sendfile) serving the file, curl fetching it to /dev/null
#   - ngtcp2's own example programs (gtlsserver / gtlsclient, AES-128-GCM)
# Prints MB/s and CPU seconds per GiB for each, and our ratios.
set -eu
build_dir=${1:?usage: run-quic.sh BUILD_DIR}
size=${QUIC_BENCH_SIZE:-1073741824}
runs=${QUIC_BENCH_RUNS:-3}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lanspread-bench-quic.XXXXXX")
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

. "$(dirname "$0")/common.sh"

if ! need /usr/bin/time time; then
  echo "/usr/bin/time is missing (package time): cannot measure the references' CPU"
  exit 1
fi

mkdir -p "$tmp/www"
head -c "$size" /dev/urandom > "$tmp/www/blob"
gib=$(awk "BEGIN { print $size / 1073741824 }")

best() { sort -n | tail -1; }

# --- ours -----------------------------------------------------------------
ours_mbps=0; ours_cpu=0
i=0
while [ $i -lt "$runs" ]; do
  line=$("$build_dir/bench/bench-quic-throughput" --size "$size" | grep '^RESULT')
  mbps=$(echo "$line" | sed 's/.*mbps=\([0-9.]*\).*/\1/')
  cpu=$(echo "$line" | sed 's/.*cpu_per_gib=\([0-9.]*\).*/\1/')
  if awk "BEGIN { exit !($mbps > $ours_mbps) }"; then ours_mbps=$mbps; ours_cpu=$cpu; fi
  i=$((i + 1))
done
printf '%-34s %7.0f MB/s  %5.2f CPU s/GiB\n' "lanspread QUIC (best of $runs)" "$ours_mbps" "$ours_cpu"

# Runs "$@" (a client) $runs times against a running server whose pid is
# $server_pid; prints the best MB/s and the CPU s/GiB of client + server.
measure_client() {
  label=$1; shift
  best_mbps=0; best_cpu=0
  i=0
  while [ $i -lt "$runs" ]; do
    s_before=$(cpu_of "$server_pid")
    start=$(date +%s.%N)
    /usr/bin/time -f '%U %S' -o "$tmp/time" "$@" >/dev/null 2>"$tmp/client.err" || {
      echo "$label: client failed:"; cat "$tmp/client.err"; return 1; }
    end=$(date +%s.%N)
    s_after=$(cpu_of "$server_pid")
    mbps=$(awk "BEGIN { printf \"%.0f\", $size / ($end - $start) / 1e6 }")
    cpu=$(awk -v s0="$s_before" -v s1="$s_after" -v g="$gib" '{ printf "%.2f", ($1 + $2 + s1 - s0) / g }' "$tmp/time")
    if [ "$mbps" -gt "$best_mbps" ]; then best_mbps=$mbps; best_cpu=$cpu; fi
    i=$((i + 1))
  done
  printf '%-34s %7.0f MB/s  %5.2f CPU s/GiB\n' "$label (best of $runs)" "$best_mbps" "$best_cpu"
  echo "$best_mbps" > "$tmp/last_mbps"
}

# --- nginx + curl -----------------------------------------------------------
nginx_mbps=
if need nginx nginx-light && need curl curl; then
  port=$(free_port)
  mkdir -p "$tmp/nginx/logs"
  cat > "$tmp/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  server {
    listen 127.0.0.1:$port;
    root $tmp/www;
  }
}
CONF
  chmod 755 "$tmp" "$tmp/www"; chmod 644 "$tmp/www/blob"
  nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" &
  server_pid=$!
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break
    sleep 0.2
  done
  measure_client "TCP: nginx + curl" curl -s -o /dev/null "http://127.0.0.1:$port/blob"
  nginx_mbps=$(cat "$tmp/last_mbps")
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
else
  echo "nginx/curl not available: TCP reference skipped"
fi

# --- ngtcp2 examples ---------------------------------------------------------
ngtcp2_mbps=
if need gtlsserver ngtcp2-server && need gtlsclient ngtcp2-client && need certtool gnutls-bin; then
  port=$(free_port)
  certtool --generate-privkey --key-type=ecdsa --outfile "$tmp/key.pem" >/dev/null 2>&1
  printf 'cn = localhost\nexpiration_days = 2\n' > "$tmp/cert.tmpl"
  certtool --generate-self-signed --load-privkey "$tmp/key.pem" --template "$tmp/cert.tmpl" \
    --outfile "$tmp/cert.pem" >/dev/null 2>&1
  ciphers=NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM
  gtlsserver -q -d "$tmp/www" --ciphers="$ciphers" 127.0.0.1 "$port" "$tmp/key.pem" "$tmp/cert.pem" \
    >/dev/null 2>"$tmp/server.err" &
  server_pid=$!
  sleep 0.5
  measure_client "ngtcp2 gtlsserver + gtlsclient" \
    gtlsclient -q --exit-on-all-streams-close --ciphers="$ciphers" 127.0.0.1 "$port" "https://127.0.0.1:$port/blob"
  ngtcp2_mbps=$(cat "$tmp/last_mbps")
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
else
  echo "ngtcp2 examples not available: QUIC reference skipped"
fi

echo
[ -n "$ngtcp2_mbps" ] && awk "BEGIN { printf \"ratio lanspread / ngtcp2 examples: %.2fx\n\", $ours_mbps / $ngtcp2_mbps }"
[ -n "$nginx_mbps" ] && awk "BEGIN { printf \"ratio lanspread / nginx+curl (TCP): %.2fx\n\", $ours_mbps / $nginx_mbps }"
awk "BEGIN { printf \"target 1250 MB/s (10 GbE line rate): %.0f%%\n\", $ours_mbps / 12.5 }"
