#!/bin/sh
# Library scan: 2,000 games, cold (hashing) against sha256sum, and warm.
set -eu
build_dir=$1
folder="$build_dir/bench-games"
mkdir -p "$folder"
"$build_dir/bench/bench-scan" "$folder" 2000 512
