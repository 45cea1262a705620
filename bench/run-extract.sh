#!/bin/sh
# Extraction: a generated 1 GiB multi-file tar, against bsdtar -xf of the
# same archive in the same run.
set -eu
build_dir=$1
work="$build_dir/bench-extract"
mkdir -p "$work"
"$build_dir/bench/bench-extract" "$work" 1024
rm -rf "$work"
