#!/bin/sh
# Verify: an installed 1 GiB game hashed against its install record,
# against sha256sum over the same files in the same run.
set -eu
build_dir=$1
work="$build_dir/bench-verify"
mkdir -p "$work"
"$build_dir/bench/bench-verify" "$work" 1024
rm -rf "$work"
