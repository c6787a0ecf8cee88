#!/usr/bin/env bash
# Sanitizer builds (DESIGN §5): ASan+UBSan over the core test suites, TSan over the threaded
# parts (trainer thread, parallel sampler, parallel likelihood, parallel transport sweep, the
# Fokker–Planck solver's thread team).
# Not part of scripts/test.sh (two extra full builds would double CI time); run it before
# changing threaded code:  scripts/sanitize.sh [asan|tsan|all]
# Time on an idle 2-core machine: about 90 minutes (measured with the two halves side by side:
# ASan+UBSan 40 min, TSan 35 min plus 15 for test_fokker_planck); test_likelihood and
# test_fokker_planck run for 15-25 minutes each under the sanitizers (tests/CMakeLists.txt gives
# sanitizer builds a longer hang guard).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
which="${1:-all}"
"$root/scripts/install-deps.sh"
threaded=(test_foundation test_trainer test_sampler test_likelihood test_transport test_fokker_planck)
run() {  # run NAME SANITIZERS TESTS...
  local dir="$root/build-$1" san="$2"; shift 2
  cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDIFFPATH_SANITIZE="$san" \
    -DDIFFPATH_BUILD_GUI=OFF -DDIFFPATH_BUILD_BENCH=OFF -DDIFFPATH_BUILD_PYTHON=OFF >/dev/null
  # One target per `make` goal builds one file at a time: name a single goal where we can.
  if [ "$#" -gt 10 ]; then
    cmake --build "$dir" -j"$(nproc)"
  else
    cmake --build "$dir" -j"$(nproc)" --target diffpath-cli "$@"
  fi
  local regex
  regex="^($(IFS='|'; echo "$*"))\$"
  (cd "$dir" && ctest -j"$(nproc)" --output-on-failure -R "$regex")
}
if [ "$which" = asan ] || [ "$which" = all ]; then
  export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  export LSAN_OPTIONS="suppressions=$root/scripts/lsan.supp:print_suppressions=0"
  mapfile -t all < <(cd "$root/tests" && ls test_*.cpp | sed 's/\.cpp$//')
  run asan address,undefined "${all[@]}"
fi
if [ "$which" = tsan ] || [ "$which" = all ]; then
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  run tsan thread "${threaded[@]}"
fi
