#!/usr/bin/env bash
# Profiles one proxy under load: CPU µs and allocated bytes per request at a fixed rate, then CPU samples at max load.
# Usage: load/profile.sh TARGET OUTDIR [RATE]
#   TARGET: yarp (bare YARP, load/bench/proxy.bare.json), tenant (load/bench/proxy.tenant.json, shipped defaults: no
#   writer), full-strict (proxy.full.json + writer), full-lease (proxy.full-lease.json + writer).
# Needs dotnet-trace and dotnet-counters in $TOOLS (default /work/tools; dotnet tool install --tool-path DIR ...).
# PROFILER=perf samples CPU at max load with Linux perf instead of dotnet-trace's thread-time samples (which count
# idle threads too): the target runs with DOTNET_PerfMapEnabled=1 and W^X off so perf names JIT-compiled frames, and
# OUTDIR gets TARGET.perf.data plus TARGET-perf-self.txt (exclusive, by symbol) and TARGET-perf-dso.txt (by library).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TARGET=${1:?target: yarp, tenant, full-strict or full-lease}
OUTDIR=${2:?output folder}
RATE=${3:-2000}
TOOLS=${TOOLS:-/work/tools}
PROFILER=${PROFILER:-dotnet-trace}
if [ "$PROFILER" = perf ]; then
  export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0
fi
mkdir -p "$OUTDIR"
WORK=$(mktemp -d /tmp/edge-profile.XXXXXX)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
free_port() { local p; for p in $(seq "$1" $(( $1 + 500 ))); do if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi; done; exit 1; }
wait_http() { for _ in $(seq 1 300); do curl -sf -o /dev/null --max-time 2 "$1" && return 0; sleep 0.2; done; echo "profile: $1 not ready" >&2; exit 1; }
start() { local log=$1; shift; "$@" >"$log" 2>&1 & PIDS+=($!); LAST_PID=$!; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

LOAD="dotnet load/Edge.Load/bin/Release/net10.0/edge-load.dll"
BP=$(free_port 19100)
start "$WORK/backend.log" dotnet src/Edge.DemoBackend/bin/Release/net10.0/Edge.DemoBackend.dll --urls "http://127.0.0.1:$BP"
wait_http "http://127.0.0.1:$BP/fast"
PORT=$(free_port 19300)
SCENARIO=plain-get; PARAMS=(--param tenant=acme --param path=/fast)
case "$TARGET" in
  yarp)
    sed "s#http://127.0.0.1:5100/#http://127.0.0.1:$BP/#" load/bench/proxy.bare.json > "$WORK/proxy.json"
    start "$WORK/target.log" dotnet load/Edge.Load.BenchHost/bin/Release/net10.0/edge-bench-host.dll yarp --config "$WORK/proxy.json" --urls "http://127.0.0.1:$PORT"
    wait_http "http://127.0.0.1:$PORT/fast" ;;
  tenant|full-strict|full-lease)
    case "$TARGET" in tenant) CFG=load/bench/proxy.tenant.json ;; full-strict) CFG=load/bench/proxy.full.json ;; *) CFG=load/bench/proxy.full-lease.json ;; esac
    sed "s#http://127.0.0.1:5100/#http://127.0.0.1:$BP/#" "$CFG" > "$WORK/proxy.json"
    RP=$(free_port 19400)
    start "$WORK/redis.log" redis-server --bind 127.0.0.1 --port "$RP" --save "" --appendonly no
    for _ in $(seq 1 50); do redis-cli -p "$RP" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
    ARGS=()
    if [ "$TARGET" != tenant ]; then
      export EDGE_JWT_HS256_KEY=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=' | head -c 48)
      SCENARIO=jwt-rbac; PARAMS+=(--param roles=Agent)
      WP=$(free_port 19700)
      # Not in $WORK: the edge runs there, and its content-root watcher would read an inotify event per WAL write.
      mkdir -p "$WORK/writer"
      start "$WORK/writer.log" dotnet src/Edge.AuditWriter/bin/Release/net10.0/Edge.AuditWriter.dll --urls "http://127.0.0.1:$WP" \
        --Writer:StorePath="$WORK/writer/audit.db" --Writer:KeyPath="$WORK/writer/writer.key" --Writer:SubjectKeyPath="$WORK/writer/subject.key" --Writer:Origin=edge-profile/audit
      wait_http "http://127.0.0.1:$WP/audit/checkpoint"
      ARGS=(--Edge:Audit:WriterUrl="http://127.0.0.1:$WP" --Edge:Audit:SpoolPath="$WORK/spool")
    fi
    MP=$(free_port 19600)
    (cd "$WORK" && exec dotnet "$ROOT/src/Edge.Proxy/bin/Release/net10.0/Edge.Proxy.dll" --urls "http://127.0.0.1:$PORT" --Edge:ManagementUrls="http://127.0.0.1:$MP" \
      --Edge:ProxyConfigPath="$WORK/proxy.json" --Edge:Redis="127.0.0.1:$RP" "${ARGS[@]}") >"$WORK/target.log" 2>&1 &
    PIDS+=($!); LAST_PID=$!
    wait_http "http://127.0.0.1:$MP/readyz" ;;
  *) echo "profile: unknown target $TARGET" >&2; exit 2 ;;
esac
TPID=$LAST_PID
RUN=($LOAD run --scenario "$SCENARIO" --target "http://127.0.0.1:$PORT" "${PARAMS[@]}" --quiet)

# Warm up (JIT, tiering, connection pools), then measure at a fixed rate: CPU ticks and allocated bytes over the window.
"${RUN[@]}" --simulation "constant:copies=16,during=8s" --report-folder "$WORK/warm" >/dev/null 2>&1
"$TOOLS/dotnet-counters" collect -p "$TPID" --counters "System.Runtime[dotnet.gc.heap.total_allocated]" --format csv \
  -o "$WORK/counters.csv" --duration 00:00:00:14 >/dev/null 2>&1 &
COUNTERS=$!
sleep 1
HZ=$(getconf CLK_TCK)
t0=$(cpu_ticks "$TPID")
"${RUN[@]}" --simulation "inject:rate=$RATE,during=12s" --report-folder "$WORK/rate" >/dev/null 2>&1
t1=$(cpu_ticks "$TPID")
wait "$COUNTERS" || true
ok=$(awk -F, '$2=="global" && $3=="ok" { print $4 }' "$WORK/rate/report.csv")
fail=$(awk -F, '$2=="global" && $3=="fail" { print $4 + 0 }' "$WORK/rate/report.csv")
cp "$WORK/counters.csv" "$OUTDIR/$TARGET-counters.csv"
# dotnet.gc.heap.total_allocated is reported as bytes per refresh interval (1 s): the median second over the window.
alloc_per_s=$(awk -F, '/total_allocated/ { print $NF }' "$WORK/counters.csv" | sort -g | awk '{ a[NR] = $1 } END { print (NR ? a[int((NR + 1) / 2)] : 0) }')
cpu_us=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v n="$ok" 'BEGIN { printf "%.0f", t * 1e6 / hz / n }')
bytes=$(awk -v a="$alloc_per_s" -v r="$RATE" 'BEGIN { printf "%.0f", a / r }')
echo "$TARGET rate=$RATE ok=$ok fail=$fail cpu_us_per_request=$cpu_us alloc_bytes_per_request=$bytes load=$(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUTDIR/$TARGET-summary.txt"

# Thread-time samples at max load (closed model; cpu-sampling needs collect-linux and root), then the top frames by inclusive and exclusive time.
"${RUN[@]}" --simulation "constant:copies=32,during=16s" --report-folder "$WORK/max" >/dev/null 2>&1 &
LOADPID=$!
sleep 3
if [ "$PROFILER" = perf ]; then
  perf record -F 999 -g -p "$TPID" -o "$OUTDIR/$TARGET.perf.data" -- sleep 10 >/dev/null 2>&1 || true
  wait "$LOADPID" || true
  perf report -i "$OUTDIR/$TARGET.perf.data" --no-children --sort dso,sym -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -120 > "$OUTDIR/$TARGET-perf-self.txt" || true
  perf report -i "$OUTDIR/$TARGET.perf.data" --no-children --sort dso -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -30 > "$OUTDIR/$TARGET-perf-dso.txt" || true
else
  "$TOOLS/dotnet-trace" collect -p "$TPID" --profile dotnet-sampled-thread-time --duration 00:00:00:10 -o "$OUTDIR/$TARGET.nettrace" >/dev/null 2>&1 || true
  wait "$LOADPID" || true
  "$TOOLS/dotnet-trace" report "$OUTDIR/$TARGET.nettrace" topN -n 40 > "$OUTDIR/$TARGET-top-exclusive.txt" 2>&1 || true
  "$TOOLS/dotnet-trace" report "$OUTDIR/$TARGET.nettrace" topN -n 60 --inclusive > "$OUTDIR/$TARGET-top-inclusive.txt" 2>&1 || true
fi
echo "profile: wrote $OUTDIR/$TARGET-*" >&2
