#!/bin/sh
# Installs the dependencies and builds thriftd: tools/build.sh [BUILD_DIR [MESON_OPTIONS...]]
# e.g. tools/build.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false
set -eu
cd "$(dirname "$0")/.."
tools/install-deps.sh
# ccache (which meson uses when installed) keys a debug build on its working
# directory by default, so a fresh clone (as CI makes) would miss the cache;
# keyed without it, it hits (the debug info then names the clone that
# compiled first).
export CCACHE_NOHASHDIR=true CCACHE_BASEDIR="$PWD"
dir=${1:-build}
[ $# -gt 0 ] && shift
if [ -f "$dir/build.ninja" ]; then
  meson setup --reconfigure "$dir" "$@" >/dev/null
else
  meson setup "$dir" "$@" >/dev/null
fi
ninja -C "$dir"
