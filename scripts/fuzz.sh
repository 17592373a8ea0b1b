#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ and runs each for a bounded time on
# a copy of its committed seed corpus (fuzz/corpus/<target>/, never grown by
# a run). Exits non-zero, saying which target and how to reproduce, if a
# target fails to build, crashes, hangs or runs out of memory.
#
#   scripts/fuzz.sh                 # every target, FUZZ_SECONDS each
#   scripts/fuzz.sh wire config     # just these
#   FUZZ_SECONDS=600 scripts/fuzz.sh l2tp_endpoint   # a longer hunt
#
# Environment: FUZZ_SECONDS (per target, default 15), FUZZ_JOBS (targets run
# at once, default: the number of CPUs), FUZZ_SEED (libFuzzer -seed; default
# random, printed in each log).
#
# Stable Rust is enough: the targets are built with cargo and the coverage
# instrumentation cargo-fuzz uses (-Cpasses=sancov-module and -Cllvm-args,
# stable codegen flags) but no sanitizer (-Zsanitizer would need nightly;
# las forbids unsafe code outside dpdk/, which the fuzz build leaves out).
# libfuzzer-sys compiles libFuzzer itself, so a C++ compiler is needed
# (g++, installed by scripts/deps.sh). See fuzz/README.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"

seconds="${FUZZ_SECONDS:-15}"
jobs="${FUZZ_JOBS:-$(nproc)}"
all=(wire l2tp_data l2tp_message l2tp_endpoint edge_control edge_codec mss_clamp respond
  show_request config ipv6_ext nd)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")
for t in "${targets[@]}"; do
  if [ ! -f "fuzz_targets/$t.rs" ]; then
    echo "fuzz: no target $t (have: ${all[*]})" >&2
    exit 2
  fi
done

if ! command -v c++ >/dev/null 2>&1; then
  echo "fuzz: no C++ compiler (libfuzzer-sys builds libFuzzer): apt-get install g++" >&2
  exit 1
fi

host="$(rustc -vV | sed -n 's/^host: //p')"
export CARGO_TARGET_DIR="$root/fuzz/target"
# What `cargo fuzz build --sanitizer none` passes, minus nothing nightly.
# --target keeps the flags off build scripts and proc macros.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares \
--cfg fuzzing"
unset CARGO_ENCODED_RUSTFLAGS
start=$SECONDS
echo "fuzz: building ${#targets[@]} targets (release, coverage-instrumented, $host)"
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
if ! cargo build --release --target "$host" "${bins[@]}"; then
  echo "fuzz: FAILED to build the fuzz targets (see the errors above)" >&2
  exit 1
fi
echo "fuzz: built in $((SECONDS - start)) s; running each target ${seconds} s, $jobs at a time"

bin="$CARGO_TARGET_DIR/$host/release"
work="$(mktemp -d /tmp/las-fuzz.XXXXXX)"
cleanup() {
  local p
  for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
  wait || true
  rm -rf "$work"
}
trap cleanup EXIT
artifacts="$root/fuzz/artifacts"

run_one() {
  local t="$1"
  mkdir -p "$work/$t" "$artifacts/$t"
  if [ -d "corpus/$t" ]; then cp -r "corpus/$t/." "$work/$t/"; fi
  local args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048
    -artifact_prefix="$artifacts/$t/" -print_final_stats=1)
  [ -n "${FUZZ_SEED:-}" ] && args+=(-seed="$FUZZ_SEED")
  # Regressions first: inputs that once crashed must not crash again.
  local dirs=("$work/$t")
  [ -d "regressions/$t" ] && dirs+=("$root/fuzz/regressions/$t")
  local rc=0
  "$bin/$t" "${args[@]}" "${dirs[@]}" >"$work/$t.log" 2>&1 || rc=$?
  # Written before the job exits: how finish_one learns it is done.
  echo "$rc" >"$work/$t.rc"
  return "$rc"
}

declare -A reported
launched=()
running=0
failed=()
report() {
  local t="$1" rc="$2"
  local runs cov
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -1)"
  cov="$(grep -o 'cov: [0-9]*' "$work/$t.log" | tail -1 || true)"
  if [ "$rc" = 0 ]; then
    echo "fuzz: $t ok (${runs:-?} runs, ${cov:-cov: ?})"
    return
  fi
  failed+=("$t")
  echo "fuzz: $t FAILED (exit $rc) ---------------------------------------------"
  grep -E -A4 "panicked at|ERROR: libFuzzer: (timeout|out-of-memory)" "$work/$t.log" |
    grep -v -E "^note: |^stack backtrace" | head -20 || true
  grep -E "INFO: Seed:" "$work/$t.log" | head -1 || true
  echo "  (last lines of the log)"
  tail -n 25 "$work/$t.log" | sed 's/^/  | /'
  local crash
  crash="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/$t.log" | tail -1)"
  if [ -n "$crash" ]; then
    echo "  reproduce:  $bin/$t $crash"
    echo "  regression: cp $crash fuzz/regressions/$t/  (replayed by every run)"
  fi
}

# Waits until at least one running target has finished and reports every
# finished one. A target is known by its .rc file, not by `wait -n -p`:
# that left the pid unset when bash had already reaped the job ("p:
# unbound variable" stopped a CI run after every target had passed).
finish_one() {
  local t found=0 wrc
  while ((found == 0)); do
    wrc=0
    wait -n 2>/dev/null || wrc=$?
    for t in "${launched[@]}"; do
      [ -z "${reported[$t]:-}" ] || continue
      if [ -f "$work/$t.rc" ]; then
        reported[$t]=1
        report "$t" "$(cat "$work/$t.rc")"
      elif ((wrc == 127)); then
        # No job left, yet no status: the job died before writing it.
        reported[$t]=1
        report "$t" "lost"
      else
        continue
      fi
      running=$((running - 1))
      found=1
    done
  done
}

for t in "${targets[@]}"; do
  while ((running >= jobs)); do finish_one; done
  run_one "$t" &
  launched+=("$t")
  running=$((running + 1))
done
while ((running > 0)); do finish_one; done

echo "fuzz: done in $((SECONDS - start)) s (build and runs)"
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} (crashing inputs under fuzz/artifacts/)" >&2
  exit 1
fi
