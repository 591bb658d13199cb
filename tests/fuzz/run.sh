#!/usr/bin/env bash
# Fuzzes every target for a share of SECONDS_TOTAL, as CI does (.ci/run
# gives it 60):
#   tests/fuzz/run.sh SECONDS_TOTAL [TARGET...]
# Builds the targets only, with clang, libFuzzer, ASan and UBSan, in
# build-fuzz/, and runs each on a copy of its committed corpus (what a run
# finds stays out of the repository; copy it into tests/fuzz/corpus/ to
# keep it). Fails on any crash, leak, timeout, out-of-memory or allocation
# over the configured message size, and prints the reproducer. For a long
# session: tests/fuzz/run.sh 3600 connection_header (one target for an hour).
# The seed is fixed (FUZZ_SEED, default 1) so that a CI run's verdict is the
# code's, not the draw's; FUZZ_SEED=0 draws one, as a long session should.
set -euo pipefail
cd "$(dirname "$0")/../.."
total=${1:?usage: tests/fuzz/run.sh SECONDS_TOTAL [TARGET...]}
shift
all="connection_buffered connection_framed connection_header connection_zlib message_scanner yaml_config
  command_line bind_address access_log_format"
# shellcheck disable=SC2206
targets=(${@:-$all})

# As tools/build.sh: a fresh clone hits the cache its last build filled.
export CCACHE_NOHASHDIR=true CCACHE_BASEDIR="$PWD"
dir=build-fuzz
options=(-Dfuzz=true -Dtests=false -Dbench=false -Db_sanitize=address,undefined -Db_lundef=false)
if [ -f "$dir/build.ninja" ]; then
  meson setup --reconfigure "$dir" "${options[@]}" >/dev/null
else
  CC=clang CXX=clang++ meson setup "$dir" "${options[@]}" >/dev/null
fi
ninja -C "$dir" "${targets[@]/#/tests/fuzz/fuzz_}"

work=$(mktemp -d /tmp/thriftd-fuzz-run.XXXXXX)
trap 'rm -rf "$work"' EXIT
share=$((total / ${#targets[@]}))
[ "$share" -ge 1 ] || share=1
# UBSan's findings stop the run as ASan's do, but those in Apache Thrift's
# headers (ubsan.supp).
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$PWD/tests/fuzz/ubsan.supp
export ASAN_OPTIONS=detect_leaks=1
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp
status=0
for target in "${targets[@]}"; do
  mkdir -p "$work/$target/corpus" "$work/$target/crashes"
  cp tests/fuzz/corpus/"$target"/* "$work/$target/corpus/"
  # -max_len below the targets' 64 KiB message limit: see
  # connection_driver.cc. -timeout: an input taking 10 s hangs.
  # -rss_limit_mb: the process as a whole (libFuzzer's own corpus included).
  if ! "$dir/tests/fuzz/fuzz_$target" -max_total_time="$share" -max_len=8192 -timeout=10 \
    -rss_limit_mb=1024 -seed="${FUZZ_SEED:-1}" -print_final_stats=1 -artifact_prefix="$work/$target/crashes/" \
    "$work/$target/corpus" >"$work/$target/log" 2>&1; then
    status=1
    echo "fuzz $target: FAILED"
    tail -n 60 "$work/$target/log"
    for crash in "$work/$target/crashes"/*; do
      [ -e "$crash" ] || continue
      echo "reproducer $(basename "$crash") (base64; replay it with $dir/tests/fuzz/fuzz_$target FILE):"
      base64 -w 0 "$crash"
      echo
    done
    continue
  fi
  # The last status line: executions, speed, coverage and features.
  line=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "$work/$target/log" | tail -n 1)
  echo "fuzz $target: ok: ${line}"
done
exit $status
