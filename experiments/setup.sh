#!/usr/bin/env bash
# setup.sh — make this machine ready for pipecast: install the Debian packages it needs when they
# are missing (as root through apt-get; otherwise say what to install), then configure and build
# into build/. Idempotent: a second run installs nothing and rebuilds only what changed.
# Usage: experiments/setup.sh [BUILDDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

packages=(gcc libc6-dev pkg-config meson ninja-build libglib2.0-dev libopenblas-dev
          libopenmpi-dev openmpi-bin gnuplot-nox)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${missing[@]}" >&2
  else
    echo "setup: these Debian packages are missing: ${missing[*]}" >&2
    echo "setup: install them as root:  sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" >&2
fi
meson compile -C "$build" >&2
