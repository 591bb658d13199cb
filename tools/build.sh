#!/bin/sh
# Installs the dependencies and builds thriftd:
#   tools/build.sh [--serve] [BUILD_DIR [MESON_OPTIONS...]]
# e.g. tools/build.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false
# --serve builds thriftd and the examples only (no tests, no benchmark), and
# installs no test tool; without it, everything is built.
set -eu
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--serve" ]; then
  shift
  tools/install-deps.sh
  defaults="-Dtests=false -Dbench=false"
else
  tools/install-deps.sh --tests
  defaults="-Dtests=true -Dbench=true"
fi
# ccache (which meson uses when installed) keys a debug build on its working
# directory by default, so a fresh clone (as CI makes) would miss the cache;
# keyed without it, it hits (the debug info then names the clone that
# compiled first).
export CCACHE_NOHASHDIR=true CCACHE_BASEDIR="$PWD"
dir=${1:-build}
[ $# -gt 0 ] && shift
# The defaults first: options given after them win (a sanitizer build turns
# the benchmark off). Given every time, since a reconfigure keeps what the
# last setup chose.
# shellcheck disable=SC2086
if [ -f "$dir/build.ninja" ]; then
  meson setup --reconfigure "$dir" $defaults "$@" >/dev/null
else
  meson setup "$dir" $defaults "$@" >/dev/null
fi
ninja -C "$dir"
