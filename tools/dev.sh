#!/usr/bin/env bash
# rein's developer entry point. Installs what is missing from Debian's packages, builds, runs.
#
#   tools/dev.sh examples                  build and run the bundled examples, offline
#   tools/dev.sh test [--sanitize LIST]    build and run every test
#                                          (LIST: address,undefined | thread; sanitized runs
#                                          leave out the package and browser tests)
#   tools/dev.sh bench                     build and print rein_bench --json
#   tools/dev.sh peers                     install the peers of bench/peers (pinned, from npm)
#                                          and run their concurrent-runs workload at 1,000 and
#                                          10,000 runs, beside rein_bench's
#   tools/dev.sh allocators                concurrent_runs_10k with glibc's malloc, then with
#                                          tcmalloc and jemalloc (Debian's packages, preloaded)
#   tools/dev.sh fuzz [--seconds N]        libFuzzer (clang, ASan+UBSan) on the parsers of
#                                          model output, N seconds a target (default 30),
#                                          seeded from tests/fuzz/corpus
#   tools/dev.sh format [--check]          clang-format every C++ source in place; --check
#                                          changes nothing and fails, listing the files, when
#                                          one is not formatted (CI runs it)
#
# Build trees live under build/ (build/release, build/address-undefined, build/thread,
# build/fuzz).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)

packages=(cmake make g++ pkg-config
          nlohmann-json3-dev libsqlite3-dev libre2-dev libssl-dev libcurl4-openssl-dev
          catch2 libcli11-dev chromium libpq-dev postgresql)

install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  echo "rein: installing missing Debian packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" != 0 ]; then sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# The MCP reference servers the integration tests run against, at the exact versions of
# tests/mcp/package.json and its lock file, installed from npm into build/mcp-servers (never
# into the source tree). Reinstalled only when the lock file changes.
install_mcp_servers() {
  command -v npm >/dev/null || install_missing nodejs npm
  local dir="$root/build/mcp-servers"
  if [ -f "$dir/package-lock.json" ] && [ -d "$dir/node_modules" ] &&
     cmp -s "$root/tests/mcp/package-lock.json" "$dir/package-lock.json"; then
    return 0
  fi
  mkdir -p "$dir"
  cp "$root/tests/mcp/package.json" "$root/tests/mcp/package-lock.json" "$dir/"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

configure() {  # configure DIR [cmake args...]
  local dir=$1
  shift
  cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREIN_WARNINGS_AS_ERRORS=ON \
    -DREIN_WITH_POSTGRES=ON "$@" >/dev/null
}

command=${1:-}
shift || true
case "$command" in
  examples)
    install_missing "${packages[@]}"
    dir="$root/build/release"
    configure "$dir"
    cmake --build "$dir" -j "$jobs" --target quickstart concurrent qbr sunglasses market_analysis scale_out
    echo "== examples/quickstart"
    "$dir/examples/quickstart/quickstart"
    echo
    echo "== examples/concurrent (1,000 agents at once, asynchronous model and tools)"
    "$dir/examples/concurrent/concurrent"
    echo
    echo "== examples/qbr (the notebook's QBR slide-pack agent; outputs under out/qbr/)"
    "$dir/examples/qbr/qbr" --region west --failure-rate 0.15 --latency-ms 20
    echo
    echo "== examples/sunglasses (the lab's plan-as-code store agent; store under out/sunglasses/)"
    sunglasses="$dir/examples/sunglasses/sunglasses"
    "$sunglasses" --reseed "Do you have any round sunglasses in stock that are under \$100?"
    for request in "Return 2 Aviator sunglasses I bought last week." \
                   "Purchase 3 Wayfarer sunglasses for customer Alice." \
                   "I want to buy 3 pairs of classic sunglasses and 1 pair of aviator sunglasses."; do
      echo
      "$sunglasses" "$request" | sed -n '/^Changes/,$p'
    done
    echo
    echo "== examples/market_analysis (a lead agent and four workers; report under out/market_analysis/)"
    "$dir/examples/market_analysis/market_analysis"
    echo
    echo "== examples/scale_out (worker processes sharing runs through PostgreSQL; one is killed)"
    pg_dir="/tmp/rein-pg-examples-$$"  # outside the tree: the server runs as another user
    trap '"$root/tests/support/postgres_server.sh" stop "$pg_dir"' EXIT
    "$dir/examples/scale_out/scale_out" --db "$("$root/tests/support/postgres_server.sh" start "$pg_dir" --fast)"
    ;;
  test)
    sanitize=""
    while (($#)); do
      case "$1" in
        --sanitize) sanitize=${2:?--sanitize needs a list}; shift 2 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
      esac
    done
    install_missing "${packages[@]}"
    install_mcp_servers
    if [ -z "$sanitize" ]; then
      dir="$root/build/release"
      configure "$dir"
      cmake --build "$dir" -j "$jobs"
      cd "$dir" && ctest --output-on-failure -j "$jobs"
    else
      dir="$root/build/${sanitize//,/-}"
      # -O1 with line tables only: sanitizer builds compile much faster than with full debug
      # information, and reports still name files and lines.
      # The examples' own tests run under ASan+UBSan; TSan is for rein's concurrency, which the
      # library's tests exercise (the example agents add no threads of their own).
      examples=ON
      [ "$sanitize" = thread ] && examples=OFF
      configure "$dir" -DREIN_SANITIZE="$sanitize" -DREIN_BUILD_BENCH=OFF -DREIN_BUILD_EXAMPLES=$examples \
        -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_FLAGS_SANITIZE="-O1 -g1"
      export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
      export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
      export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
      cmake --build "$dir" -j "$jobs"
      # Package tests rebuild rein for consumers without sanitizers, and the browser test
      # screenshots a report; the plain run covers both.
      cd "$dir" && ctest --output-on-failure -j "$jobs" -LE "package|browser"
    fi
    ;;
  bench)
    # valijson: the established validator the schema benchmarks compare with (header-only).
    install_missing "${packages[@]}" libvalijson-dev
    dir="$root/build/release"
    configure "$dir"
    cmake --build "$dir" -j "$jobs" --target rein_bench
    # The pg_* scenarios need a server: a throwaway one keeping PostgreSQL's durable defaults
    # (no --fast), unless REIN_BENCH_POSTGRES names one already. The trap comes first, so that
    # a failed start is cleaned up too.
    if [ -z "${REIN_BENCH_POSTGRES:-}" ]; then
      pg_dir="/tmp/rein-pg-bench-$$"  # outside the tree: the server runs as another user
      trap '"$root/tests/support/postgres_server.sh" stop "$pg_dir"' EXIT
      REIN_BENCH_POSTGRES=$("$root/tests/support/postgres_server.sh" start "$pg_dir")
      export REIN_BENCH_POSTGRES
    fi
    "$dir/bench/rein_bench" --json
    ;;
  peers)
    install_missing "${packages[@]}"
    command -v npm >/dev/null || install_missing nodejs npm
    (cd "$root/bench/peers" && npm ci --no-audit --no-fund --loglevel=error)
    dir="$root/build/release"
    configure "$dir"
    cmake --build "$dir" -j "$jobs" --target rein_bench
    for runs in 1000 10000; do
      echo "langgraph_js_concurrent_runs_$runs $(node "$root/bench/peers/langgraph_concurrent.mjs" "$runs")"
      name=concurrent_runs_1k
      [ "$runs" = 10000 ] && name=concurrent_runs_10k
      echo "rein_$name $("$dir/bench/rein_bench" --scenario "$name")"
    done
    ;;
  allocators)
    # The allocator is the host's choice; this shows what it is worth to a host with thousands
    # of runs in flight (docs/performance.md).
    install_missing "${packages[@]}" libtcmalloc-minimal4 libjemalloc2
    dir="$root/build/release"
    configure "$dir"
    cmake --build "$dir" -j "$jobs" --target rein_bench
    lib=/usr/lib/$(gcc -print-multiarch)
    for allocator in glibc "$lib/libtcmalloc_minimal.so.4" "$lib/libjemalloc.so.2"; do
      preload=$allocator
      [ "$allocator" = glibc ] && preload=
      echo "$(basename "$allocator") $(LD_PRELOAD=$preload "$dir/bench/rein_bench" --scenario concurrent_runs_10k)"
    done
    ;;
  fuzz)
    seconds=30
    while (($#)); do
      case "$1" in
        --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
      esac
    done
    install_missing "${packages[@]}" clang libclang-rt-14-dev
    dir="$root/build/fuzz"
    CXX=clang++ CC=clang configure "$dir" -DREIN_BUILD_FUZZERS=ON -DREIN_SANITIZE=address,undefined \
      -DREIN_BUILD_EXAMPLES=OFF -DREIN_BUILD_BENCH=OFF -DREIN_BUILD_TOOLS=OFF \
      -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link"
    targets=(chat_response json_plan json_schema)
    cmake --build "$dir" -j "$jobs" --target "${targets[@]/#/rein_fuzz_}"
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    for t in "${targets[@]}"; do
      # New inputs go to a work directory; the repository's corpus is read, not written.
      work="$dir/work/$t"
      mkdir -p "$work"
      echo "== fuzz $t for ${seconds}s"
      log="$dir/work/$t.log"
      rc=0
      "$dir/tests/fuzz/rein_fuzz_$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
        -artifact_prefix="$dir/crash-$t-" -print_final_stats=1 "$work" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
      grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|ERROR|SUMMARY" "$log" || true
      if [ "$rc" != 0 ]; then
        tail -n 40 "$log" >&2
        echo "rein: fuzz target $t failed; the input is under $dir/crash-$t-*" >&2
        exit 1
      fi
    done
    ;;
  format)
    install_missing clang-format
    mapfile -t sources < <(cd "$root" && find include src tests examples bench tools \
      \( -path bench/peers -o -path tests/fuzz/corpus \) -prune -o \
      -type f \( -name '*.cpp' -o -name '*.hpp' \) -print | sort)
    cd "$root"
    if [ "${1:-}" = --check ]; then
      unformatted=()
      for f in "${sources[@]}"; do
        clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || unformatted+=("$f")
      done
      if ((${#unformatted[@]})); then
        echo "rein: not formatted as .clang-format says (tools/dev.sh format fixes them):" >&2
        printf '  %s\n' "${unformatted[@]}" >&2
        exit 1
      fi
      echo "rein: ${#sources[@]} sources formatted as .clang-format says"
    else
      clang-format -i "${sources[@]}"
    fi
    ;;
  *)
    sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
