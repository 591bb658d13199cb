#!/bin/sh
# Installs what thriftd needs to build and run on Debian 12, and with
# --tests what its tests need too: tools/install-deps.sh [--tests]
# Every dependency is a Debian package (see DESIGN.md); run as root.
# Installs no server daemon, and waits for the package lock (held by
# unattended-upgrades right after boot) instead of failing.
set -eu
packages="
  g++ meson ninja-build pkg-config ccache
  libthrift-dev thrift-compiler zlib1g-dev
  libevent-dev libyaml-cpp-dev libsystemd-dev libssl-dev
  libboost-program-options-dev libboost-context-dev
  nlohmann-json3-dev
  python3 python3-thrift
"
tests=false
if [ "${1:-}" = "--tests" ]; then
  tests=true
  # systemd for systemd-socket-activate (installing it in a container starts
  # no init, and on a host it is there already), util-linux for unshare.
  # clang and its runtimes (libFuzzer, the sanitizers) for tests/fuzz/run.sh.
  # openssl for the CLI the TLS tests make certificates with and probe with (s_client).
  packages="$packages doctest-dev python3-pytest systemd util-linux clang libclang-rt-14-dev"
  # iproute2 for ss: the tests ask the kernel for one port's sockets.
  packages="$packages iproute2"
  packages="$packages openssl"
  # pytest-xdist: the integration tests mostly wait on processes (user+sys is
  # a third of the wall time), so two at once halve the suite's time.
  packages="$packages python3-pytest-xdist"
fi
export DEBIAN_FRONTEND=noninteractive

# apt_get ARGS...: apt-get, retried for up to 10 minutes while another
# apt-get or dpkg holds a lock (DPkg::Lock::Timeout covers dpkg's lock, not
# the package lists' one that `update` takes). Any other failure is final.
apt_get() {
  deadline=$(($(date +%s) + 600))
  output=$(mktemp)
  until apt-get -o DPkg::Lock::Timeout=60 "$@" >"$output" 2>&1; do
    cat "$output" >&2
    if ! grep -q -e 'Could not get lock' -e 'Unable to lock' -e 'Unable to acquire' "$output" ||
      [ "$(date +%s)" -ge "$deadline" ]; then
      rm -f "$output"
      return 1
    fi
    echo "install-deps: another package manager holds the lock; waiting" >&2
    sleep 5
  done
  cat "$output"
  rm -f "$output"
}

# installed PACKAGE: true when dpkg has PACKAGE installed.
installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

missing=""
for p in $packages; do
  installed "$p" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  apt_get update -q
  # shellcheck disable=SC2086
  apt_get install -y -q --no-install-recommends $missing
fi

[ "$tests" = true ] || exit 0

# haproxy, which the load-balancer test runs itself in the foreground. Its
# package would start the haproxy daemon at once (deb-systemd-invoke under
# systemd, invoke-rc.d elsewhere) and enable it for every boot. So:
# - haproxy.service is masked (a link to /dev/null, as `systemctl mask`
#   makes) before the package is configured, and stays masked: systemd never
#   starts it, at boot or after an upgrade (`systemctl unmask haproxy` to
#   run the daemon after all). The package's postinst removes only masks it
#   made itself.
# - /usr/sbin/policy-rc.d exits 101 ("action forbidden", which both
#   deb-systemd-invoke and invoke-rc.d obey) while apt-get runs; any
#   policy-rc.d already there (a container image's) is put back afterwards,
#   also when the install fails or is interrupted (and by the next run when
#   this one was killed).
# - the links the postinst made to enable it are removed again.
policy=/usr/sbin/policy-rc.d
saved=$policy.thriftd-saved
policy_mark="# tools/install-deps.sh: no daemon starts while it installs haproxy"
restore_policy() {
  rm -f "$policy"
  [ ! -e "$saved" ] || mv -f "$saved" "$policy"
}
# A run killed while installing left its policy-rc.d behind.
if grep -qsxF "$policy_mark" "$policy"; then
  restore_policy
fi
if ! installed haproxy; then
  mkdir -p /etc/systemd/system
  [ -e /etc/systemd/system/haproxy.service ] || [ -L /etc/systemd/system/haproxy.service ] ||
    ln -s /dev/null /etc/systemd/system/haproxy.service
  trap restore_policy EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  [ ! -e "$policy" ] || mv -f "$policy" "$saved"
  printf '#!/bin/sh\n%s\nexit 101\n' "$policy_mark" >"$policy"
  chmod 0755 "$policy"
  apt-cache show haproxy >/dev/null 2>&1 || apt_get update -q
  apt_get install -y -q --no-install-recommends haproxy
  restore_policy
  trap - EXIT INT TERM
  systemctl disable haproxy.service >/dev/null 2>&1 || true
  update-rc.d haproxy disable >/dev/null 2>&1 || true
fi

# promtool, which the tests run on /metrics, ships only in Debian's
# prometheus package: the Prometheus server, a daemon that would start at
# once and at every boot and listen on :9090. So promtool alone is taken out
# of that package, which is not installed.
if ! command -v promtool >/dev/null 2>&1; then
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  # The package lists may be gone (a container image cleans them).
  apt-cache show prometheus >/dev/null 2>&1 || apt_get update -q
  (cd "$scratch" && apt_get -o APT::Sandbox::User=root download prometheus)
  dpkg-deb -x "$scratch"/prometheus_*.deb "$scratch/root"
  install -m 0755 "$scratch/root/usr/bin/promtool" /usr/local/bin/promtool
fi
