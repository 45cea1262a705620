# Helpers the benchmark scripts share; sourced, not run.

# Installs the Debian package $2 when command $1 is missing and we may
# (root with apt-get); succeeds when the command is there.
need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      apt-get install -y -q "$2" >/dev/null
    fi
  fi
  command -v "$1" >/dev/null 2>&1
}

# A free UDP/TCP port on loopback, chosen by the kernel.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# CPU seconds (user+system) consumed so far by a process and its reaped children.
cpu_of() {
  awk '{ printf "%.2f\n", ($14 + $15 + $16 + $17) / '"$(getconf CLK_TCK)"' }' "/proc/$1/stat"
}
