#!/bin/sh
# The window with 2,000 games: time to the first frame with the grid
# filled, and from a search's change to the frame that shows it.
set -eu
build_dir=$1
. "$(dirname "$0")/common.sh"

if [ ! -x "$build_dir/bench/bench-ui" ]; then
  echo "skipped: the benchmark build has no app (-Dui=false)"
  exit 0
fi
export GSETTINGS_SCHEMA_DIR="$build_dir/data" GSK_RENDERER=cairo NO_AT_BRIDGE=1
run() {
  "$build_dir/bench/bench-ui" 2000
}
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  if ! need xvfb-run xvfb; then
    echo "skipped: no display and no xvfb-run"
    exit 0
  fi
  line=$(xvfb-run -a -s "-screen 0 1280x1024x24" sh -c "$(command -v dbus-run-session || true) $build_dir/bench/bench-ui 2000" 2>/dev/null | grep '^RESULT' || true)
else
  line=$(run 2>/dev/null | grep '^RESULT' || true)
fi
[ -n "$line" ] || { echo "bench-ui did not finish"; exit 1; }
field() { echo "$line" | sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
printf '%-40s %8s ms\n' "first frame with 2000 cards' grid" "$(field first_frame_ms)"
printf '%-40s %8s ms (after the entry'"'"'s own 150 ms delay)\n' "search applied and painted" "$(field search_ms)"
printf '%-40s %8s ms\n' "search cleared and painted" "$(field clear_ms)"
