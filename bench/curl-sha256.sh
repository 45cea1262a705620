#!/bin/sh
# curl-sha256.sh NGINX_PID BASE_URL DIR FILE...: what a user could script
# instead of Lanspread: curl fetches each FILE from BASE_URL into DIR, then
# sha256sum checks them. Prints "CURL wall=SECONDS cpu=SECONDS" (the CPU of
# curl, sha256sum and the nginx process) and removes what it fetched.
set -eu
. "$(dirname "$0")/common.sh"
nginx_pid=$1 base=$2 dir=$3
shift 3
rm -rf "$dir"; mkdir -p "$dir"
args=; sums=
for f in "$@"; do
  args="$args -o $dir/$(basename "$f") $base/$f"
  sums="$sums $dir/$(basename "$f")"
done
s0=$(cpu_of "$nginx_pid")
start=$(date +%s.%N)
/usr/bin/time -f '%U %S' -o "$dir.time" sh -c "curl -sS --fail $args && sha256sum $sums > $dir.sums"
end=$(date +%s.%N)
s1=$(cpu_of "$nginx_pid")
awk -v w="$(awk "BEGIN { print $end - $start }")" -v s0="$s0" -v s1="$s1" \
  '{ printf "CURL wall=%s cpu=%.2f\n", w, $1 + $2 + s1 - s0 }' "$dir.time"
rm -rf "$dir" "$dir.time" "$dir.sums"
