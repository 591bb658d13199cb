#!/bin/sh
# Installs what thriftd needs to build, test and benchmark on Debian 12.
# Every dependency is a Debian package (see DESIGN.md); run as root.
set -eu
packages="
  g++ meson ninja-build pkg-config ccache
  libthrift-dev thrift-compiler
  libevent-dev libyaml-cpp-dev
  libboost-program-options-dev libboost-context-dev
  doctest-dev
  python3 python3-thrift python3-pytest
  prometheus
"
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $missing
fi
