#!/bin/sh
# Peer sync cost (a new peer learning 2,000 games) and idle cost (10 peers, 60 s).
set -eu
"$1/bench/bench-sync" 2000 60
