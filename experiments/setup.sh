#!/usr/bin/env bash
# setup.sh — make this machine ready for pipecast: install the Debian packages it needs when they
# are missing (as root through apt-get; otherwise say what to install), then configure and build
# into build/. Idempotent: a second run installs nothing and rebuilds only what changed.
# Usage: experiments/setup.sh [BUILDDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

source experiments/packages.sh
pc_need_packages setup gcc libc6-dev pkg-config meson ninja-build libglib2.0-dev libopenblas-dev \
  libopenmpi-dev openmpi-bin gnuplot-nox

# Open MPI looks up this machine's own name at every launch; where /etc/hosts does not name it
# (a bare chroot or container), each lookup waits on DNS for seconds. Name it as Debian does.
host=$(uname -n)
if [ "$(id -u)" -eq 0 ] && ! grep -qsw -- "$host" /etc/hosts; then
  echo "setup: /etc/hosts does not name this host ($host): adding 127.0.1.1 $host" >&2
  grep -qsw localhost /etc/hosts || printf '127.0.0.1\tlocalhost\n' >>/etc/hosts
  printf '127.0.1.1\t%s\n' "$host" >>/etc/hosts
fi

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" >&2
fi
meson compile -C "$build" >&2
