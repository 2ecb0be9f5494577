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

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" >&2
fi
meson compile -C "$build" >&2
