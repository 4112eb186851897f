#!/usr/bin/env bash
# Side-by-side benchmark: the same edge-load scenario against several targets in alternating rounds, each compared
# with the first one (its baseline) in the same run. See usage() or docs/load-testing.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

usage() {
  cat <<'EOF'
Usage: load/bench.sh [--preset NAME] [--smoke] [options]

Runs one edge-load scenario against several targets in alternating rounds (closed model for throughput, open model
for latency) and writes a table of medians plus every target's ratio to the first target (its baseline).

Presets (each a side-by-side comparison against its own baseline):
  proxies    bare YARP (the baseline), direct, nginx and three edges, jwt-rbac  -> load/RESULTS.md:
             edge-tenant (load/bench/proxy.tenant.json, shipped defaults: no writer, local NDJSON audit file),
             edge-lease (load/bench/proxy.full-lease.json: tenant, JWT + RBAC, lease limiter on Redis, writer on),
             edge-strict (load/bench/proxy.full.json: the same with the strict limiter, writer on)
  classic    direct, nginx, bare YARP and the full edge (load/bench/proxy.full.json), jwt-rbac
  audit      the edge with the audit writer off vs on (load/bench/proxy.tenant.json), plain-get
  ratelimit  routes without a limiter, Strict and Lease mode on Redis (load/bench/proxy.ratelimit.json), plain-get;
             adds Redis script calls per rate-limit decision; with --edges 2, --redis-cluster and --decisions
  ratelimit-decisions
             only the decision-only harness (edge-load ratelimit: the edge's limiter without HTTP, two instances,
             single Redis and a 3-master cluster, p99 at 80% of saturation, SIGSTOP blackhole)
  webhooks   POST to a plain route vs a GitHub-signed route (load/bench/proxy.webhooks.json), webhook;
             --param body-padding=1048576 for 1 MiB bodies
  auth       no auth step vs JWT HS256, RS256 and ES256 (JWKS) + EdgeRequire (load/bench/proxy.auth.json), jwt-rbac
  Every preset other than proxies writes load/reports/bench-<preset>.md.

Options (after a preset, they override it):
  --smoke              a few seconds per target, to check the script works (writes load/reports/bench-smoke*.md)
  --paths LIST         targets: direct,nginx,yarp,yarp-wks,edge,edge-noaudit (yarp-wks: bare YARP on Workstation GC,
                       DOTNET_gcServer=0, for GC comparisons; edge-noaudit: a second edge, no audit writer),
                       or any edge-NAME defined with --edge-target
  --edge-target NAME=CONFIG[,writer][,env:KEY=VALUE...][,bin:DLL]
                       one more edge process, edge-NAME, with its own proxy.json; ",writer" ships its decisions to the
                       audit writer (otherwise the shipped default, a local NDJSON file); ",env:KEY=VALUE" sets an
                       environment variable for that process only (e.g. a runtime knob, to compare it side by side);
                       ",bin:DLL" runs another build's Edge.Proxy.dll (e.g. a worktree of an older commit, built with
                       -c Release), so two commits are compared in the same rounds; repeatable
  --route NAME=PATH[,key=value...]
                       an edge route to measure, repeatable; each is its own row, extra --param values per route
  --scenario NAME      edge-load scenario (edge-load list)
  --param key=value    a scenario parameter for every row, repeatable
  --edge-config FILE   the edge's proxy.json (the backend address http://127.0.0.1:5100/ is rewritten to the real one)
  --edge-arg ARG       an extra argument for the edge process, repeatable
  --backend demo|bench src/Edge.DemoBackend (GET /fast only) or the bench host's backend (any method, serves /jwks.json)
  --rounds N --duration D --warmup D --copies N --rate N
                       rounds (default 3), measured time per run (10s), uncounted warm-up (2s), closed-model copies (32),
                       open-model rate per second (1000)
  --warm-round D       before round 1, one uncounted closed-model run of D per row, so that tiered compilation has
                       settled before anything is counted (default 8s; 0 skips it; --smoke skips it)
  --edges 1|2          edge instances on the same Redis (2: both get the same routes, requests alternate between them)
  --redis-cluster      the edges use a 3-master Redis Cluster (redis-server --cluster-enabled yes, redis-cli --cluster
                       create) instead of one redis-server; Redis calls are summed over the three masters
  --decisions          after the HTTP rows, also run the decision-only harness (edge-load ratelimit) and append its
                       tables to the same report
  --decisions-arg ARG  an extra argument for edge-load ratelimit, repeatable (e.g. --decisions-arg --redis
                       --decisions-arg single)
  --cross-check wrk|none
                       wrk: also drive every row with wrk (-t1, the same connections and duration) right after its
                       edge-load throughput run, and add a table of wrk's max RPS, ratios and each generator's own CPU
                       per request: a heavier generator leaves the proxies less of the shared cores, which narrows the
                       ratios. One fixed GET per row, so scenarios plain-get and jwt-rbac (HS256) only; needs wrk.
                       Default: wrk for the proxies preset when wrk is installed (not with --smoke), none otherwise
  --out FILE           where the results go
  -h, --help           this text

Per row, the fixed-rate phase also reports CPU µs per request of each process (utime + stime from /proc/PID/stat:
the proxy, the backend, Redis and the audit writer, whose figure is µs per record, one record per request) and the
proxy's allocated bytes per request (the edge's /metrics runtime counter, bare YARP's /_bench/allocated-bytes).

Environment: WRITER_ENV="KEY=VALUE ..." starts the audit writer with those variables (named in the report).
Listens only on free loopback ports from BENCH_PORT_BASE (environment, default 18000) to 99 above it (a Redis Cluster's
nodes also open their bus port, 10000 above their own).
Needs curl, nginx (only for the nginx target; apt-get install -y nginx-light), redis-server, and wrk for the
cross-check (apt-get install -y wrk; without it the proxies preset runs edge-load alone). Every process it
starts is stopped on exit, Ctrl+C included. Exit codes: 0 done, 1 a run or a preflight failed, 2 usage error.

Examples:
  load/bench.sh --smoke
  load/bench.sh --preset ratelimit --rounds 2
  load/bench.sh --preset ratelimit --rounds 2 --edges 2 --redis-cluster --decisions
  load/bench.sh --preset webhooks --param body-padding=1048576
  load/bench.sh --paths yarp,edge --edge-config load/bench/proxy.tenant.json
EOF
}

PRESET=proxies
ROUNDS=3
DURATION=10s
WARMUP=2s
# One uncounted closed-model pass per row before round 1: a freshly started .NET process needs seconds of load before
# tiered compilation settles, and on a fresh machine the first round measured half the throughput of the second.
WARM_ROUND=8s
COPIES=32
RATE=1000
OUT=""
SMOKE=0
EDGE_COUNT=1
REDIS_CLUSTER=0
DECISIONS=0
DECISIONS_ONLY=0
DECISION_ARGS=()
CROSS_CHECK=none
EDGE_ARGS=()
PARAMS=()
ROUTES=()
ARGS="$*"

# The preset sets the defaults first, so any option given on the command line overrides it wherever it appears.
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = --preset ]; then j=$((i + 1)); PRESET=${!j:-}; fi
done
EDGE_TARGETS=()
case "$PRESET" in
  proxies)   PATHS="yarp,direct,nginx,edge-tenant,edge-lease,edge-strict"; SCENARIO=jwt-rbac; EDGE_CONFIG=load/bench/proxy.full.json; BACKEND=demo
             PARAMS=(tenant=acme roles=Agent); ROUTES=("fast=/fast")
             EDGE_TARGETS=("tenant=load/bench/proxy.tenant.json" "lease=load/bench/proxy.full-lease.json,writer" "strict=load/bench/proxy.full.json,writer")
             CROSS_CHECK=auto ;;
  classic)   PATHS="direct,nginx,yarp,edge"; SCENARIO=jwt-rbac; EDGE_CONFIG=load/bench/proxy.full.json; BACKEND=demo
             PARAMS=(tenant=acme roles=Agent); ROUTES=("fast=/fast") ;;
  audit)     PATHS="edge-noaudit,edge"; SCENARIO=plain-get; EDGE_CONFIG=load/bench/proxy.tenant.json; BACKEND=demo
             PARAMS=(tenant=acme); ROUTES=("fast=/fast") ;;
  ratelimit) PATHS="edge"; SCENARIO=plain-get; EDGE_CONFIG=load/bench/proxy.ratelimit.json; BACKEND=bench
             ROUTES=("none=/plain/x" "strict=/strict/x" "lease=/lease/x" "strict-10k-keys=/strict-keys/x,keys=10000" "lease-10k-keys=/lease-keys/x,keys=10000") ;;
  ratelimit-decisions) PATHS="edge"; SCENARIO=plain-get; EDGE_CONFIG=load/bench/proxy.ratelimit.json; BACKEND=bench
             DECISIONS=1; DECISIONS_ONLY=1 ;;
  webhooks)  PATHS="edge"; SCENARIO=webhook; EDGE_CONFIG=load/bench/proxy.webhooks.json; BACKEND=bench
             PARAMS=(body-padding=1024); ROUTES=("unsigned=/plain" "signed=/signed") ;;
  auth)      PATHS="edge"; SCENARIO=jwt-rbac; EDGE_CONFIG=load/bench/proxy.auth.json; BACKEND=bench
             PARAMS=(roles=Agent)
             ROUTES=("none=/bench/plain" "hs256=/bench/hs,alg=HS256" "rs256=/bench/jwks,alg=RS256,signing-key=file:{keys}/rs256.pem,kid=rs256"
                     "es256=/bench/jwks,alg=ES256,signing-key=file:{keys}/es256.pem,kid=es256") ;;
  *) echo "bench: unknown preset '$PRESET' (proxies, classic, audit, ratelimit, ratelimit-decisions, webhooks, auth)" >&2; usage >&2; exit 2 ;;
esac
ROUTES_SET=0

need() { [ $# -ge 2 ] || { echo "bench: $1 needs a value" >&2; usage >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --preset) need "$@"; shift ;;
    --smoke) SMOKE=1; ROUNDS=1; DURATION=2s; WARMUP=1s; WARM_ROUND=0; COPIES=8; RATE=200 ;;
    --paths) need "$@"; PATHS=$2; shift ;;
    --route) need "$@"; [ "$ROUTES_SET" -eq 1 ] || ROUTES=(); ROUTES_SET=1; ROUTES+=("$2"); shift ;;
    --scenario) need "$@"; SCENARIO=$2; shift ;;
    --param) need "$@"; PARAMS+=("$2"); shift ;;
    --rounds) need "$@"; ROUNDS=$2; shift ;;
    --duration) need "$@"; DURATION=$2; shift ;;
    --warmup) need "$@"; WARMUP=$2; shift ;;
    --warm-round) need "$@"; WARM_ROUND=$2; shift ;;
    --copies) need "$@"; COPIES=$2; shift ;;
    --rate) need "$@"; RATE=$2; shift ;;
    --edge-config) need "$@"; EDGE_CONFIG=$2; shift ;;
    --edge-arg) need "$@"; EDGE_ARGS+=("$2"); shift ;;
    --edge-target) need "$@"; EDGE_TARGETS+=("$2"); shift ;;
    --backend) need "$@"; BACKEND=$2; shift ;;
    --out) need "$@"; OUT=$2; shift ;;
    --edges) need "$@"; EDGE_COUNT=$2; shift ;;
    --redis-cluster) REDIS_CLUSTER=1 ;;
    --decisions) DECISIONS=1 ;;
    --decisions-arg) need "$@"; DECISION_ARGS+=("$2"); shift ;;
    --cross-check) need "$@"; CROSS_CHECK=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
case "$BACKEND" in demo|bench) ;; *) echo "bench: --backend must be demo or bench" >&2; exit 2 ;; esac
case "$EDGE_COUNT" in 1|2) ;; *) echo "bench: --edges must be 1 or 2" >&2; exit 2 ;; esac
# The proxies preset (the README's headline) adds wrk's reading when wrk is installed, except in a smoke run; an explicit
# --cross-check wrk needs it.
if [ "$CROSS_CHECK" = auto ]; then
  if [ "$SMOKE" -eq 0 ] && command -v wrk >/dev/null && [[ "$SCENARIO" == @(plain-get|jwt-rbac) ]]; then CROSS_CHECK=wrk; else CROSS_CHECK=none; fi
  [ "$SMOKE" -eq 1 ] || [ "$CROSS_CHECK" = wrk ] || command -v wrk >/dev/null || echo "bench: wrk is not installed, so this run has no cross-check with a second generator (apt-get install -y wrk)" >&2
fi
case "$CROSS_CHECK" in
  none) CROSS_CHECK="" ;;
  wrk) case "$SCENARIO" in plain-get|jwt-rbac) ;; *) echo "bench: --cross-check wrk sends one fixed GET per row: scenario plain-get or jwt-rbac, not $SCENARIO" >&2; exit 2 ;; esac ;;
  *) echo "bench: --cross-check must be wrk or none, got '$CROSS_CHECK'" >&2; exit 2 ;;
esac
# Checked before anything is built or started: '--rounds 0' used to run no round and still write a table of empty
# medians over load/RESULTS.md, and '--rate abc' failed only after minutes of building and warming up.
positive_int() { [[ "$2" =~ ^[0-9]+$ ]] && [ "$((10#$2))" -gt 0 ] || { echo "bench: $1 must be a positive integer, got '$2'" >&2; exit 2; }; }
duration() { # option value allow-zero
  [[ "$2" =~ ^([0-9]+(\.[0-9]+)?(us|ms|s|m|h)|[0-9]+:[0-9]{2}:[0-9]{2}(\.[0-9]+)?)$ ]] \
    || { echo "bench: $1 must be a duration such as 500ms, 10s, 2m or 00:00:10, got '$2'" >&2; exit 2; }
  [ "$3" = zero-ok ] || [[ "$2" =~ [1-9] ]] || { echo "bench: $1 must be positive, got '$2'" >&2; exit 2; }
}
positive_int --rounds "$ROUNDS"; positive_int --copies "$COPIES"; positive_int --rate "$RATE"
# Every port the script listens on is a free one in PORT_BASE..PORT_BASE+99 (free_port), so users sharing a machine
# can keep to their own range of 100.
PORT_BASE=${BENCH_PORT_BASE:-18000}
[[ "$PORT_BASE" =~ ^[0-9]+$ ]] && [ "$((10#$PORT_BASE))" -ge 1024 ] && [ "$((10#$PORT_BASE))" -le 64000 ] \
  || { echo "bench: BENCH_PORT_BASE must be a port number from 1024 to 64000, got '$PORT_BASE'" >&2; exit 2; }
PORT_BASE=$((10#$PORT_BASE))
duration --duration "$DURATION" positive
duration --warmup "$WARMUP" zero-ok
[ "$WARM_ROUND" = 0 ] || duration --warm-round "$WARM_ROUND" positive  # 0 is the documented way to skip it
if [ -z "$OUT" ]; then
  if [ "$SMOKE" -eq 1 ]; then
    OUT=load/reports/bench-smoke$([ "$PRESET" = proxies ] || echo "-$PRESET").md
  elif [ "$PRESET" = proxies ]; then OUT=load/RESULTS.md
  else OUT=load/reports/bench-$PRESET.md; fi
fi

# Extra edges: edge-NAME -> its config and whether it ships to the writer.
declare -A TARGET_CONFIG TARGET_WRITER TARGET_ENV TARGET_BIN
for t in "${EDGE_TARGETS[@]}"; do
  [[ "$t" =~ ^([A-Za-z0-9_]+)=([^,]+)((,writer|,env:[A-Za-z_][A-Za-z0-9_]*=[^,]*|,bin:[^,]+)*)$ ]] \
    || { echo "bench: --edge-target '$t' is not NAME=CONFIG[,writer][,env:KEY=VALUE...][,bin:DLL]" >&2; exit 2; }
  name=edge-${BASH_REMATCH[1]}; TARGET_CONFIG[$name]=${BASH_REMATCH[2]}; TARGET_WRITER[$name]=0; TARGET_ENV[$name]=""
  IFS=',' read -r -a opts <<< "${BASH_REMATCH[3]#,}"
  for o in "${opts[@]}"; do
    case "$o" in
      writer) TARGET_WRITER[$name]=1 ;;
      env:*) TARGET_ENV[$name]+="${o#env:} " ;;
      bin:*) [ -f "${o#bin:}" ] || { echo "bench: --edge-target $name: ${o#bin:} does not exist (build that tree with dotnet build -c Release)" >&2; exit 2; }
             TARGET_BIN[$name]=${o#bin:} ;;
    esac
  done
done
IFS=',' read -r -a SELECTED <<< "$PATHS"
for p in "${SELECTED[@]}"; do
  case "$p" in direct|nginx|yarp|yarp-wks|edge|edge-noaudit) ;;
    *) [ -n "${TARGET_CONFIG[$p]:-}" ] || { echo "bench: unknown path '$p' (direct, nginx, yarp, yarp-wks, edge, edge-noaudit, or edge-NAME from --edge-target)" >&2; exit 2; } ;;
  esac
done
for r in "${ROUTES[@]}"; do
  [[ "$r" =~ ^[A-Za-z0-9_-]+=/ ]] || { echo "bench: --route '$r' is not NAME=/path[,key=value...]" >&2; exit 2; }
done
has_path() { [[ ",$PATHS," == *",$1,"* ]]; }
has_edge() { [[ ",$PATHS," == *",edge"* ]]; }
# True when a selected edge ships its records to the audit writer.
needs_writer() {
  if has_path edge && [ "${NO_AUDIT:-0}" != 1 ]; then return 0; fi
  local p; for p in "${SELECTED[@]}"; do [ "${TARGET_WRITER[$p]:-0}" = 1 ] && return 0; done
  return 1
}

WORK=$(mktemp -d /tmp/edge-bench.XXXXXX)
# Taken before anything starts: the report's "before the run" must not be read after the rounds have heated the host.
RUN_STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
PIDS=()
KEEP_WORK=1

fail() {
  echo "bench: FAILED: $*" >&2
  echo "bench: logs and reports kept in $WORK" >&2
  exit 1
}

cleanup() {
  local code=$?
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [ "$code" -eq 0 ] && [ "$KEEP_WORK" -eq 0 ]; then rm -rf "$WORK"; fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench: $*" >&2; }
# The commit measured, and whether the tree had changes on top of it: a report of uncommitted code named only the commit.
commit_text() { local c; c=$(git rev-parse --short HEAD 2>/dev/null) || { echo '?'; return 0; }; if [ -n "$(git status --porcelain 2>/dev/null)" ]; then echo "$c with uncommitted changes"; else echo "$c"; fi; }
# Before anything is written: read when the report was, the report itself (and the fallback log beside it, when
# --out is inside the repository) made every run's tree read "with uncommitted changes".
COMMIT_MEASURED=$(commit_text)

# Sets the variable named $1 to the next free loopback port (nothing answers a TCP connect there) in
# PORT_BASE..PORT_BASE+99, above every port handed out before: a whole run fits in a range of 100 ports, and a port
# handed out but not yet bound is never handed out twice.
NEXT_PORT=$PORT_BASE
free_port() {
  # Not "port": printf -v would set this function's own local instead of the caller's variable of that name.
  local candidate
  for ((candidate = NEXT_PORT; candidate < PORT_BASE + 100; candidate++)); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then printf -v "$1" '%s' "$candidate"; NEXT_PORT=$((candidate + 1)); return 0; fi
  done
  fail "no free port left in $PORT_BASE..$((PORT_BASE + 99)) (BENCH_PORT_BASE): stop what listens there or choose another base"
}

# Waits until $url answers with one of the allowed statuses (default any 2xx), failing fast when the process died.
wait_http() {
  local name=$1 url=$2 pid=$3 logfile=$4 deadline=$(( SECONDS + 60 )) status
  while [ $SECONDS -lt $deadline ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "---- last lines of $logfile ----" >&2; tail -n 30 "$logfile" >&2 || true
      fail "$name exited during startup (log above)"
    fi
    status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)
    if [[ "$status" == 2* ]]; then return 0; fi
    sleep 0.2
  done
  echo "---- last lines of $logfile ----" >&2; tail -n 30 "$logfile" >&2 || true
  fail "$name did not become ready at $url within 60 s (last status $status)"
}

declare -A PID_OF
start() { # name logfile command...
  local name=$1 logfile=$2; shift 2
  "$@" >"$logfile" 2>&1 &
  PIDS+=($!)
  LAST_PID=$!
  PID_OF[$name]=$!
  log "started $name (pid $LAST_PID)"
}

command -v curl >/dev/null || fail "curl is missing (apt-get install -y curl)"
if [ -n "$CROSS_CHECK" ]; then command -v wrk >/dev/null || fail "wrk is missing: apt-get update && apt-get install -y wrk (or drop --cross-check)"; fi
if has_path nginx; then command -v nginx >/dev/null || fail "nginx is missing: apt-get update && apt-get install -y nginx-light (or drop it: --paths direct,yarp,edge)"; fi
if has_edge; then
  command -v redis-server >/dev/null || fail "redis-server is missing: apt-get update && apt-get install -y redis-server"
  if has_path edge || has_path edge-noaudit; then [ -f "$EDGE_CONFIG" ] || fail "edge config $EDGE_CONFIG does not exist"; fi
  for p in "${SELECTED[@]}"; do
    if [ -n "${TARGET_CONFIG[$p]:-}" ]; then [ -f "${TARGET_CONFIG[$p]}" ] || fail "edge config ${TARGET_CONFIG[$p]} does not exist"; fi
  done
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
build() {
  log "building $1 (Release)"
  timeout 900 dotnet build "$1" -c Release -v q -nologo >"$WORK/build-$(basename "$1").log" 2>&1 \
    || { tail -n 20 "$WORK/build-$(basename "$1").log" >&2; fail "build of $1 failed"; }
}
build load/Edge.Load
LOAD="dotnet load/Edge.Load/bin/Release/net10.0/edge-load.dll"

# Every rate-limit warning of the edges and of the decision-only harness (events 1307: a script call whose decisions
# went to the outage mode, with its reason; 1300/1301: a breaker opened or closed) is kept next to the report: a
# successful run removes $WORK and the logs with it, and the report's fallback counts alone do not say why.
FALLBACK_LOG=""
keep_fallback_lines() {
  FALLBACK_LOG="${OUT%.md}.fallbacks.log"
  local f
  : > "$FALLBACK_LOG"
  for f in "$WORK"/*.log; do
    [ -f "$f" ] || continue
    # Not the start-up line (event 1305, "Redis connected and script loaded"): it is no warning.
    grep -F 'Rate limiting: Redis' "$f" | grep -vF 'connected and script loaded' | sed "s|^|$(basename "$f"): |" >> "$FALLBACK_LOG" || true
  done
  log "rate-limit warnings: $(wc -l < "$FALLBACK_LOG") line(s) kept in $FALLBACK_LOG"
}

# The decision-only harness: edge-load starts its own redis-server and 3-master cluster (never the edges' Redis).
run_decisions() { # markdown file
  local args=(--rounds "$ROUNDS")
  if [ "$SMOKE" -eq 1 ]; then args=(--smoke); fi
  log "decision-only harness: edge-load ratelimit ${args[*]} ${DECISION_ARGS[*]}"
  $LOAD ratelimit "${args[@]}" "${DECISION_ARGS[@]}" --out "$1" 2>"$WORK/decisions.log" >/dev/null \
    || { tail -n 20 "$WORK/decisions.log" >&2; fail "edge-load ratelimit failed"; }
}
if [ "$DECISIONS_ONLY" -eq 1 ]; then
  command -v redis-server >/dev/null || fail "redis-server is missing: apt-get update && apt-get install -y redis-server"
  mkdir -p "$(dirname "$OUT")"
  run_decisions "$WORK/decisions.md"
  keep_fallback_lines
  {
    echo "- command: \`load/bench.sh $ARGS\`; commit $COMMIT_MEASURED; load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
    echo "- rate-limit warnings (failed calls with their reason, breaker transitions): $(wc -l < "$FALLBACK_LOG") line(s) in \`$FALLBACK_LOG\`"
    echo
    cat "$WORK/decisions.md"
  } > "$OUT"
  log "wrote $OUT"
  cat "$OUT"
  KEEP_WORK=0
  exit 0
fi

build load/Edge.Load.BenchHost
BENCH_HOST="dotnet load/Edge.Load.BenchHost/bin/Release/net10.0/edge-bench-host.dll"

# Keys for the auth preset (RS256/ES256 rows) and a JWKS the bench backend serves; harmless for the others.
$LOAD keys --out "$WORK/keys" >/dev/null || fail "edge-load keys failed"

# The backend: the demo backend's GET /fast, or the bench host's backend (any method and path, plus /jwks.json).
free_port BACKEND_PORT
if [ "$BACKEND" = demo ]; then
  build src/Edge.DemoBackend
  BACKEND_NAME="src/Edge.DemoBackend (GET /fast)"
  start backend "$WORK/backend.log" dotnet src/Edge.DemoBackend/bin/Release/net10.0/Edge.DemoBackend.dll --urls "http://127.0.0.1:$BACKEND_PORT"
else
  BACKEND_NAME="load/Edge.Load.BenchHost backend (any method and path answers 200)"
  start backend "$WORK/backend.log" $BENCH_HOST backend --jwks "$WORK/keys/jwks.json" --urls "http://127.0.0.1:$BACKEND_PORT"
fi
declare -A URL
URL[direct]="http://127.0.0.1:$BACKEND_PORT"

with_backend_port() { sed "s#http://127.0.0.1:5100/#http://127.0.0.1:$BACKEND_PORT/#" "$1" > "$2"; }

if has_path nginx; then
  free_port NGINX_PORT
  mkdir -p "$WORK/nginx/tmp"
  cat > "$WORK/nginx/nginx.conf" <<EOF
daemon off;
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/tmp/body;
  proxy_temp_path $WORK/nginx/tmp/proxy;
  fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
  scgi_temp_path $WORK/nginx/tmp/scgi;
  upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 256; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
    }
  }
}
EOF
  start nginx "$WORK/nginx.log" nginx -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf"
  wait_http nginx "http://127.0.0.1:$NGINX_PORT/fast" "$LAST_PID" "$WORK/nginx/error.log"
  URL[nginx]="http://127.0.0.1:$NGINX_PORT"
fi

if has_path yarp; then
  free_port YARP_PORT
  with_backend_port load/bench/proxy.bare.json "$WORK/proxy.bare.json"
  start yarp "$WORK/yarp.log" $BENCH_HOST yarp --config "$WORK/proxy.bare.json" --urls "http://127.0.0.1:$YARP_PORT"
  wait_http "bare YARP" "http://127.0.0.1:$YARP_PORT/fast" "$LAST_PID" "$WORK/yarp.log"
  URL[yarp]="http://127.0.0.1:$YARP_PORT"
fi
if has_path yarp-wks; then
  # The same bare YARP on Workstation GC: a GC mode tried on an edge (env:DOTNET_gcServer=0) has its baseline here.
  free_port YARP_WKS_PORT
  with_backend_port load/bench/proxy.bare.json "$WORK/proxy.bare-wks.json"
  start yarp-wks "$WORK/yarp-wks.log" env DOTNET_gcServer=0 $BENCH_HOST yarp --config "$WORK/proxy.bare-wks.json" --urls "http://127.0.0.1:$YARP_WKS_PORT"
  wait_http "bare YARP (Workstation GC)" "http://127.0.0.1:$YARP_WKS_PORT/fast" "$LAST_PID" "$WORK/yarp-wks.log"
  URL[yarp-wks]="http://127.0.0.1:$YARP_WKS_PORT"
fi

# Throwaway secrets for this run only: tokens and signatures made by edge-load, verified by the edge.
EDGE_JWT_HS256_KEY=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=' | head -c 48)
GITHUB_WEBHOOK_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=' | head -c 40)
export EDGE_JWT_HS256_KEY GITHUB_WEBHOOK_SECRET

declare -A MGMT
EDGES=0
start_edge() { # name audit(1|0) [config]
  local name=$1 audit=$2 config=${3:-$WORK/proxy.edge.json} port mgmt
  free_port port
  free_port mgmt
  EDGES=$(( EDGES + 1 ))
  local audit_args=()
  if [ "$audit" = 1 ]; then audit_args=(--Edge:Audit:WriterUrl="http://127.0.0.1:$WRITER_PORT" --Edge:Audit:SpoolPath="$WORK/spool-$name")
  else audit_args=(--Edge:Audit:LocalFile="$WORK/decisions-$name.ndjson"); fi
  local env_args=()
  if [ -n "${TARGET_ENV[$name]:-}" ]; then read -r -a env_args <<< "${TARGET_ENV[$name]}"; fi
  start "$name" "$WORK/$name.log" env "${env_args[@]}" dotnet "${TARGET_BIN[$name]:-src/Edge.Proxy/bin/Release/net10.0/Edge.Proxy.dll}" \
    --urls "http://127.0.0.1:$port" --Edge:ManagementUrls="http://127.0.0.1:$mgmt" \
    --Edge:ProxyConfigPath="$config" --Edge:Redis="$EDGE_REDIS" "${audit_args[@]}" "${EDGE_ARGS[@]}"
  wait_http "$name" "http://127.0.0.1:$mgmt/readyz" "$LAST_PID" "$WORK/$name.log"
  URL[$name]="http://127.0.0.1:$port"
  MGMT[$name]="http://127.0.0.1:$mgmt"
}

if has_edge; then
  [ -f src/Edge.Proxy/Edge.Proxy.csproj ] || fail "src/Edge.Proxy is missing"
  build src/Edge.Proxy
  REDIS_PORTS=()
  for n in $(seq 1 $([ "$REDIS_CLUSTER" -eq 1 ] && echo 3 || echo 1)); do
    free_port port
    cluster_args=()
    if [ "$REDIS_CLUSTER" -eq 1 ]; then
      mkdir -p "$WORK/redis-$port"
      cluster_args=(--cluster-enabled yes --cluster-config-file "$WORK/redis-$port/nodes.conf" --cluster-node-timeout 2000 --dir "$WORK/redis-$port")
    fi
    start "redis-$port" "$WORK/redis-$port.log" redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --daemonize no "${cluster_args[@]}"
    for _ in $(seq 1 50); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG || fail "redis-server did not answer PING on $port (see $WORK/redis-$port.log)"
    REDIS_PORTS+=("$port")
  done
  if [ "$REDIS_CLUSTER" -eq 1 ]; then
    redis-cli --cluster create $(printf '127.0.0.1:%s ' "${REDIS_PORTS[@]}") --cluster-replicas 0 --cluster-yes >"$WORK/cluster-create.log" 2>&1 \
      || { cat "$WORK/cluster-create.log" >&2; fail "redis-cli --cluster create failed"; }
    for port in "${REDIS_PORTS[@]}"; do
      for _ in $(seq 1 100); do redis-cli -p "$port" cluster info 2>/dev/null | grep -q 'cluster_state:ok' && break; sleep 0.1; done
      redis-cli -p "$port" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || fail "cluster node $port not ok within 10 s"
    done
  fi
  EDGE_REDIS=$(printf '127.0.0.1:%s,' "${REDIS_PORTS[@]}"); EDGE_REDIS=${EDGE_REDIS%,}
  with_backend_port "$EDGE_CONFIG" "$WORK/proxy.edge.json"
  # Audit on: a separate writer process, and the edge spooling every decision to it (as run.sh does).
  if needs_writer; then
    build src/Edge.AuditWriter
    free_port WRITER_PORT
    # WRITER_ENV="KEY=VALUE ..." runs the writer with those environment variables (e.g. a runtime knob to compare).
    # The store gets a folder of its own, as on a writer host: in $WORK, beside the edges' proxy.json, every WAL write
    # was an inotify event that each edge's config watcher had to read and filter.
    mkdir -p "$WORK/writer"
    start writer "$WORK/writer.log" env ${WRITER_ENV:-} dotnet src/Edge.AuditWriter/bin/Release/net10.0/Edge.AuditWriter.dll \
      --urls "http://127.0.0.1:$WRITER_PORT" --Writer:StorePath="$WORK/writer/audit.db" --Writer:KeyPath="$WORK/writer/writer.key" --Writer:SubjectKeyPath="$WORK/writer/subject.key" \
      --Writer:Origin=edge-bench/audit
    wait_http writer "http://127.0.0.1:$WRITER_PORT/audit/checkpoint" "$LAST_PID" "$WORK/writer.log"
  fi
  if has_path edge; then
    edge_audit=$(needs_writer && [ "${NO_AUDIT:-0}" != 1 ] && echo 1 || echo 0)
    start_edge edge "$edge_audit"
    if [ "$EDGE_COUNT" -eq 2 ]; then start_edge edge2 "$edge_audit"; fi
  fi
  if has_path edge-noaudit; then start_edge edge-noaudit 0; fi
  for p in "${SELECTED[@]}"; do
    if [ -n "${TARGET_CONFIG[$p]:-}" ]; then
      with_backend_port "${TARGET_CONFIG[$p]}" "$WORK/proxy.$p.json"
      # Without a writer the edge runs on shipped defaults: decisions go to a local NDJSON file (kept in the work folder).
      start_edge "$p" "${TARGET_WRITER[$p]}" "$WORK/proxy.$p.json"
    fi
  done
fi

# Rows: every non-edge target gets the first route's path (they have no steps to tell routes apart); every edge
# target gets one row per route. The first row is the baseline of the ratio columns.
ROW_LABEL=(); ROW_TARGET=(); ROW_ROUTE=()
for p in "${SELECTED[@]}"; do
  if [[ "$p" == edge* ]]; then
    for r in "${ROUTES[@]}"; do
      if [ ${#ROUTES[@]} -gt 1 ]; then ROW_LABEL+=("$p:${r%%=*}"); else ROW_LABEL+=("$p"); fi
      ROW_TARGET+=("$p"); ROW_ROUTE+=("$r")
    done
  else
    ROW_LABEL+=("$p"); ROW_TARGET+=("$p"); ROW_ROUTE+=("${ROUTES[0]}")
  fi
done

# The edge-load arguments of a row: its path, the common --param values, then the route's own.
row_args() { # row index
  local spec=${ROW_ROUTE[$1]} path extra kv
  spec=${spec#*=}; path=${spec%%,*}
  local args=(--scenario "$SCENARIO" --target "${URL[${ROW_TARGET[$1]}]}" --param "path=$path")
  if [ "${ROW_TARGET[$1]}" = edge ] && [ "$EDGE_COUNT" -eq 2 ]; then args+=(--param "also-targets=${URL[edge2]}"); fi
  for kv in "${PARAMS[@]}"; do args+=(--param "$kv"); done
  if [[ "$spec" == *,* ]]; then
    IFS=',' read -r -a extra <<< "${spec#*,}"
    for kv in "${extra[@]}"; do args+=(--param "${kv//\{keys\}/$WORK/keys}"); done
  fi
  printf '%s\n' "${args[@]}"
}

# Rate-limit decisions (the edge's own counter) and Redis script calls (the server's own count) so far.
# With --edges 2 the target "edge" is both instances: their counters are summed.
edge_metrics() { local e; for e in $1 $([ "$1" = edge ] && [ "$EDGE_COUNT" -eq 2 ] && echo edge2); do curl -s --max-time 5 "${MGMT[$e]}/metrics"; done; }
decisions() { edge_metrics "$1" | awk '/^edge_ratelimit_decisions_total/ { s += $NF } END { printf "%d\n", s }'; }
# Decisions the outage mode answered (must stay 0 while Redis is healthy), by reason.
fallbacks() { edge_metrics "$1" | awk '/^edge_ratelimit_fallbacks_total/ { s += $NF } END { printf "%d\n", s }'; }
redis_calls() { # summed over every master of a cluster
  local port
  for port in "${REDIS_PORTS[@]}"; do redis-cli -p "$port" info commandstats; done | tr -d '\r' \
    | awk -F'[=,:]' '/^cmdstat_(evalsha|eval):/ { s += $3 } END { printf "%d\n", s }'
}

# Why a row's edge-load run failed: its output, the status codes it got and, for an edge, the edge's own log (a crashed
# or refusing edge says why there, not in edge-load's connection errors).
explain_row() { # row folder what
  echo "---- $3 of ${ROW_LABEL[$1]} ----" >&2; tail -n 8 "$2.log" >&2 || true
  [ -f "$2/status-codes.csv" ] && { echo "---- status codes ----" >&2; cat "$2/status-codes.csv" >&2; }
  if [[ "${ROW_TARGET[$1]}" == edge* ]]; then echo "---- last lines of $WORK/${ROW_TARGET[$1]}.log ----" >&2; tail -n 20 "$WORK/${ROW_TARGET[$1]}.log" >&2 || true; fi
  return 0
}

# Preflight: a short run per row must succeed, or the numbers would measure denials (a step missing or misconfigured).
mkdir -p "$WORK/reports"
for i in "${!ROW_LABEL[@]}"; do
  mapfile -t args < <(row_args "$i")
  folder="$WORK/reports/preflight-$i"
  if ! $LOAD run "${args[@]}" --simulation "inject:rate=5,during=1s" --threshold "fail% < 1" --threshold "ok >= 1" \
      --report-folder "$folder" --quiet >"$folder.log" 2>&1; then
    explain_row "$i" "$folder" preflight
    fail "preflight of ${ROW_LABEL[$i]} failed through $EDGE_CONFIG; a pipeline step is missing or misconfigured"
  fi
done

# CPU time (utime + stime, clock ticks) of a process role; nginx counts its master and its workers.
HZ=$(getconf CLK_TCK)
ticks() { # role (redis: every redis-server, summed over a cluster's masters)
  local pid=${PID_OF[$1]:-} total=0 p
  if [ "$1" = redis ] && [ "${#REDIS_PORTS[@]}" -gt 0 ]; then pid=${PID_OF[redis-${REDIS_PORTS[0]}]}; fi
  [ -n "$pid" ] || { echo 0; return; }
  local pids=("$pid")
  if [ "$1" = redis ]; then pids=(); for p in "${REDIS_PORTS[@]}"; do pids+=("${PID_OF[redis-$p]}"); done; fi
  if [ "$1" = nginx ]; then mapfile -t -O 1 pids < <(pgrep -P "$pid"); pids[0]=$pid; fi
  for p in "${pids[@]}"; do
    [ -r "/proc/$p/stat" ] && total=$(( total + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }') ))
  done
  echo "$total"
}
# The process that serves a row's requests: the backend itself for direct, otherwise the proxy.
proxy_role() { if [ "$1" = direct ]; then echo backend; else echo "$1"; fi; }
# Bytes the proxy process allocated since start: bare YARP's /_bench/allocated-bytes, the edge's runtime counter.
allocated() { # target
  case "$1" in
    yarp|yarp-wks) curl -s --max-time 5 "${URL[$1]}/_bench/allocated-bytes" ;;
    # awk reads to the end: leaving early would break curl's pipe (exit 23) and, with pipefail, the script.
    edge*) curl -s --max-time 5 "${MGMT[$1]}/metrics" | awk '/^dotnet_gc_heap_total_allocated_bytes_total/ && !v { v = $NF } END { if (v != "") printf "%.0f\n", v }' ;;
    *) echo "" ;;
  esac
}
uses_writer() { { [ "$1" = edge ] && needs_writer && [ "${NO_AUDIT:-0}" != 1 ]; } || [ "${TARGET_WRITER[$1]:-0}" = 1 ]; }
# Bytes per request between two readings of a since-start allocation counter: "-" when a reading is missing or did not
# advance. One edge's scrape once answered the same value 10 s apart, and the row read 0 bytes per request (-3,801 added).
# A likely cause: under Server GC with DATAS (the .NET default), the runtime sums only the heaps active at the moment and
# never reports less than its highest reading, so a heap count that shrank between rounds holds the counter still until
# the remaining heaps catch up (dotnet/runtime#131069, fixed after 10.0.12). A heap count that grew back within one
# reading overstates it the same way, which this check cannot see: compare with `edge-load request-alloc`.
alloc_per_request() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { if (a == "" || b == "" || n + 0 == 0 || b + 0 <= a + 0) print "-"; else printf "%.0f\n", (b - a) / n }'; }
per_request() { awk -v t="$1" -v n="$2" -v hz="$HZ" 'BEGIN { if (n + 0 == 0) print "-"; else printf "%.1f", t * 1e6 / hz / n }'; }
# Requests the target served during one edge-load run: ok and failed, plus the uncounted warm-up (warmup_requests, the
# 17th column). The closed model's warm-up used to be estimated at the measured rate, which a cold process does not reach.
served() { awk -F, '$2=="global" { n += $4; if ($3 == "ok") w = $17 } END { printf "%.0f\n", n + w }' "$1/report.csv"; }

# CPU time (clock ticks) of this script's finished children (cutime + cstime): read around one foreground run, it is
# that run's own, the load generator's.
child_ticks() { sed 's/^.*) //' "/proc/$$/stat" | awk '{ print $14 + $15 }'; }
# A duration as whole seconds for wrk (which takes 2s, 2m, 2h only), rounded up: 500ms -> 1, 00:01:30 -> 90, 0s -> 0.
whole_seconds() { awk -v d="$1" 'BEGIN { if (d ~ /:/) { n = split(d, p, ":"); v = p[1] * 3600 + p[2] * 60 + p[3] } else if (d ~ /us$/) v = d / 1e6; else if (d ~ /ms$/) v = d / 1e3; else if (d ~ /m$/) v = d * 60; else if (d ~ /h$/) v = d * 3600; else v = d + 0; s = int(v); if (s < v) s++; print s }'; }
# wrk's summary of one run: requests per second, non-2xx/3xx responses and socket errors (connect, read, write and
# timeout summed), "-" for a value wrk did not print.
wrk_summary() { awk '/^Requests\/sec:/ { rps = $2 } /Non-2xx or 3xx responses:/ { bad = $NF } /Socket errors:/ { gsub(/,/, ""); err = $4 + $6 + $8 + $10 } END { print (rps == "" ? "-" : rps), bad + 0, err + 0 }' "$1"; }
# The headers of a row's one fixed request for wrk, one per line: the tenant header, and for jwt-rbac a bearer token
# minted with the row's issuer, audience, tenant and roles. Fails for a row wrk cannot send alike (RS256/ES256 tokens,
# rotating rate-limit keys).
wrk_headers() { # row
  local -a args
  mapfile -t args < <(row_args "$1")
  local i kv tenant="" header=X-Tenant-ID iss=https://id.example aud=edge roles=Agent alg=HS256 keys=0 key=env:EDGE_JWT_HS256_KEY
  for ((i = 0; i < ${#args[@]}; i++)); do
    [ "${args[$i]}" = --param ] || continue
    kv=${args[$((i + 1))]}
    case "${kv%%=*}" in
      tenant) tenant=${kv#*=} ;; tenant-header) header=${kv#*=} ;; iss) iss=${kv#*=} ;; aud) aud=${kv#*=} ;;
      roles) roles=${kv#*=} ;; alg) alg=${kv#*=} ;; keys) keys=${kv#*=} ;; key) key=${kv#*=} ;;
    esac
  done
  [ "$alg" = HS256 ] && [ "$keys" = 0 ] || return 1
  [ -z "$tenant" ] || echo "$header: $tenant"
  if [ "$SCENARIO" = jwt-rbac ]; then
    echo "Authorization: Bearer $($LOAD token --key "$key" --tenant "${tenant:-acme}" --roles "$roles" --iss "$iss" --aud "$aud")"
  fi
}
# The cross-check of one row's throughput: wrk, one thread, the same connections and duration as edge-load's closed
# model, after an uncounted run of the warm-up's length. Appends "round label wrk rps non2xx errors cpu-us/request".
measure_wrk() { # round row
  local round=$1 row=$2 label=${ROW_LABEL[$2]} spec path h g0 g1 out="$WORK/reports/r$1-$2-wrk.txt"
  spec=${ROW_ROUTE[$row]#*=}; path=${spec%%,*}
  local headers=() lines
  if ! wrk_headers "$row" > "$out.headers"; then echo "$round $label wrk - - - -" >> "$WORK/generators.txt"; return; fi
  mapfile -t lines < "$out.headers"
  for h in "${lines[@]}"; do headers+=(-H "$h"); done
  if [ "$(whole_seconds "$WARMUP")" -gt 0 ]; then
    wrk -t1 -c"$COPIES" -d"$(whole_seconds "$WARMUP")s" "${headers[@]}" "${URL[${ROW_TARGET[$row]}]}$path" > /dev/null 2>&1
  fi
  g0=$(child_ticks)
  wrk -t1 -c"$COPIES" -d"$(whole_seconds "$DURATION")s" "${headers[@]}" "${URL[${ROW_TARGET[$row]}]}$path" > "$out" 2>&1 \
    || { cat "$out" >&2; fail "wrk failed against $label"; }
  g1=$(child_ticks)
  local rps bad err n
  read -r rps bad err < <(wrk_summary "$out")
  n=$(awk '/requests in/ { print $1 }' "$out")
  echo "$round $label wrk $rps $bad $err $(per_request $((g1 - g0)) "${n:-0}")" >> "$WORK/generators.txt"
  log "round $round $label wrk: rps=$rps non-2xx=$bad socket-errors=$err wrk-cpu-us/req=$(tail -n 1 "$WORK/generators.txt" | awk '{ print $7 }')"
}

# One measurement: mode "max" (closed model, $COPIES copies: throughput) or "rate" (open model, $RATE/s: latency; also
# CPU per request of every process and the proxy's allocated bytes per request).
measure() { # round row mode
  local round=$1 row=$2 mode=$3 sim folder label=${ROW_LABEL[$2]} target=${ROW_TARGET[$2]} d0=0 c0=0 d1=0 c1=0 f0=0 f1=0
  local role tp0 tp1 tb0 tb1 tr0 tr1 tw0 tw1 a0="" a1=""
  role=$(proxy_role "$target")
  if [ "$mode" = max ]; then sim="constant:copies=$COPIES,during=$DURATION"; else sim="inject:rate=$RATE,during=$DURATION"; fi
  folder="$WORK/reports/r$round-$row-$mode"
  mapfile -t args < <(row_args "$row")
  if [[ "$target" == edge* ]]; then d0=$(decisions "$target"); c0=$(redis_calls); f0=$(fallbacks "$target"); fi
  if [ "$mode" = rate ]; then a0=$(allocated "$target"); fi
  tp0=$(ticks "$role"); tb0=$(ticks backend); tr0=$(ticks redis); tw0=$(ticks writer)
  local g0 g1
  g0=$(child_ticks)
  $LOAD run "${args[@]}" --simulation "$sim" --warmup "$WARMUP" --report-folder "$folder" --quiet >"$folder.log" 2>&1 \
    || { explain_row "$row" "$folder" "round $round $mode"; fail "edge-load failed against $label ($mode)"; }
  g1=$(child_ticks)
  tp1=$(ticks "$role"); tb1=$(ticks backend); tr1=$(ticks redis); tw1=$(ticks writer)
  if [ "$mode" = max ] && [ -n "$CROSS_CHECK" ]; then
    echo "$round $label edge-load $(awk -F, '$2=="global" && $3=="ok" { printf "%.1f\n", $5 }' "$folder/report.csv") - - $(per_request $((g1 - g0)) "$(served "$folder")")" >> "$WORK/generators.txt"
  fi
  if [ "$mode" = rate ]; then a1=$(allocated "$target"); fi
  if [[ "$target" == edge* ]]; then d1=$(decisions "$target"); c1=$(redis_calls); f1=$(fallbacks "$target"); fi
  local cpu="- - - - -"
  if [ "$mode" = rate ]; then
    local n cp cb cr cw al
    # The CPU and allocation counters are read around the whole edge-load run, warm-up included; divide by every
    # request the target served in it (edge-load reports the warm-up's count), or each per-request figure is inflated.
    n=$(served "$folder")
    cp=$(per_request $((tp1 - tp0)) "$n"); cb=$(per_request $((tb1 - tb0)) "$n"); cr="-"; cw="-"; al="-"
    if [[ "$target" == edge* ]]; then cr=$(per_request $((tr1 - tr0)) "$n"); fi
    if uses_writer "$target"; then cw=$(per_request $((tw1 - tw0)) "$n"); fi
    al=$(alloc_per_request "$a0" "$a1" "$n")
    if [ "$al" = - ] && [ -n "$a0" ] && [ -n "$a1" ]; then log "warning: $label's allocation counter read $a0 before and $a1 after round $round's $mode run; not counted (a Server GC heap count change holds that counter still)"; fi
    cpu="$cp $cb $cr $cw $al"
  else
    # At saturation, where the fixed-rate figures' idle overhead (thread-pool spinning, timers) no longer dominates: the
    # proxy's and the writer's CPU per request, the closed-model warm-up's requests included.
    local n cp cw="-"
    n=$(served "$folder")
    cp=$(per_request $((tp1 - tp0)) "$n")
    if uses_writer "$target"; then cw=$(per_request $((tw1 - tw0)) "$n"); fi
    cpu="$cp - - $cw -"
  fi
  # scenario,step,outcome,count,rps,min,mean,max,stddev,p50,p75,p95,p99,...
  awk -F, -v r="$round" -v p="$label" -v m="$mode" -v d=$((d1 - d0)) -v c=$((c1 - c0)) -v f=$((f1 - f0)) '
    $2=="global" && $3=="ok"   { ok=$4; rps=sprintf("%.1f", $5); p50=$10; p99=$13 }
    $2=="global" && $3=="fail" { fail=$4 }
    END { print r, p, m, rps, p50, p99, ok, fail + 0, d, c, f }' "$folder/report.csv" | sed "s/\$/ $cpu/" >> "$WORK/samples.txt"
  log "round $round $label $mode: $(tail -n 1 "$WORK/samples.txt" | awk '{printf "rps=%s p50=%sms p99=%sms ok=%s fail=%s decisions=%s redis-calls=%s fallbacks=%s cpu-us/req proxy=%s backend=%s redis=%s writer=%s alloc-B/req=%s", $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16}')"
}

: > "$WORK/samples.txt"
: > "$WORK/generators.txt"
: > "$WORK/loadavg.txt"
if [ "$WARM_ROUND" != 0 ]; then
  for i in "${!ROW_LABEL[@]}"; do
    mapfile -t args < <(row_args "$i")
    folder="$WORK/reports/warm-$i"
    log "warming ${ROW_LABEL[$i]} for $WARM_ROUND (uncounted)"
    $LOAD run "${args[@]}" --simulation "constant:copies=$COPIES,during=$WARM_ROUND" --report-folder "$folder" --quiet >"$folder.log" 2>&1 \
      || { explain_row "$i" "$folder" "warm-up round"; fail "edge-load failed against ${ROW_LABEL[$i]} (warm-up round)"; }
  done
fi
for round in $(seq 1 "$ROUNDS"); do
  # Rotate the order every round so no row always runs first (warm caches) or last (thermal, noisy neighbours).
  n=${#ROW_LABEL[@]}
  for k in $(seq 0 $(( n - 1 ))); do
    row=$(( (k + round - 1) % n ))
    measure "$round" "$row" max
    if [ -n "$CROSS_CHECK" ]; then measure_wrk "$round" "$row"; fi
    measure "$round" "$row" rate
  done
  echo "load average after round $round: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$WORK/loadavg.txt"
done

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
stat() { awk -v p="$1" -v m="$2" -v c="$3" '$2==p && $3==m { print $c }' "$WORK/samples.txt" | median; }
# The median of a cross-check column (generator wrk or edge-load) for one row: "-" when never measured.
gen_stat() { awk -v g="$1" -v p="$2" -v c="$3" '$2 == p && $3 == g && $c != "-" && $c != "" { print $c }' "$WORK/generators.txt" | median | sed 's/^nan$/-/'; }
# The median of a column that is "-" where it does not apply (CPU and allocation columns): "-" when never measured.
stat_opt() { awk -v p="$1" -v c="$2" -v m="${3:-rate}" '$2==p && $3==m && $c != "-" && $c != "" { print $c }' "$WORK/samples.txt" | median | sed 's/^nan$/-/'; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || a == "" || b == "") print "-"; else printf "%+.0f", a - b }'; }
fails() { awk -v p="$1" '$2==p { s += $8 } END { print s + 0 }' "$WORK/samples.txt"; }
fallback_count() { awk -v p="$1" '$2==p { d += $9; f += $11 } END { if (d == 0) print "-"; else print f + 0 }' "$WORK/samples.txt"; }
per_decision() { awk -v p="$1" '$2==p { d += $9; c += $10 } END { if (d == 0) print "-"; else printf "%.3f", c / d }' "$WORK/samples.txt"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "" || b == "nan" || a == "nan" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
# Each round's own throughput ratio (this row's and the baseline's max RPS of the same round), rounds in order: the median
# alone read 0.59 for a row whose rounds read 0.66, 0.59 and 0.86 (session 33), which a reader must see to trust it.
round_ratios() { awk -v p="$1" -v b="$2" '$3 == "max" && ($2 == p || $2 == b) { v[$1 SUBSEP $2] = $4; if ($1 + 0 > n) n = $1 + 0 } END { for (i = 1; i <= n; i++) { k = ((i SUBSEP b) in v && (i SUBSEP p) in v && v[i SUBSEP b] + 0 > 0) ? sprintf("%.2f", v[i SUBSEP p] / v[i SUBSEP b]) : "n/a"; out = out (i > 1 ? " / " : "") k } print (n == 0 ? "n/a" : out) }' "$3"; }
diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan") print "n/a"; else printf "%+.3f", a - b }'; }
# One value per round for a verdict row, rounds in order ("n/a" where a round lacks one): "ratio", this row's column C
# over the baseline's in the same round (max RPS); "added", this row's column minus the baseline's in the same round
# (printf format F); "value", this row's own column. Mode M is max or rate. Arguments: kind row baseline C M F samples.
round_values() { awk -v k="$1" -v p="$2" -v b="$3" -v c="$4" -v m="$5" -v f="$6" '$3 == m && ($2 == p || $2 == b) && $c != "-" && $c != "" { v[$1 SUBSEP $2] = $c; if ($1 + 0 > n) n = $1 + 0 } END { for (i = 1; i <= n; i++) { x = "n/a"; if ((i SUBSEP p) in v) { if (k == "value") x = v[i SUBSEP p]; else if ((i SUBSEP b) in v) { if (k == "ratio") { if (v[i SUBSEP b] + 0 > 0) x = sprintf("%.2f", v[i SUBSEP p] / v[i SUBSEP b]) } else x = sprintf(f, v[i SUBSEP p] - v[i SUBSEP b]) } } out = out (i > 1 ? " " : "") x } print (n == 0 ? "n/a" : out) }' "$7"; }
# The verdict from each round's own value, not from the medians: met when every measured round meets the target, NOT met
# when none does, and "not shown" when rounds fall on both sides. On this host one row's ratio moved by 0.26 between two
# runs of the same code minutes apart, and a median verdict then read "NOT met" for a row two of whose rounds met. A
# smoke run's seconds on a busy host judge nothing: its table once said "met" for a ratio no real run had reached.
# Arguments: target, op (>= or <=), the values (space-separated, n/a where missing).
round_verdict() { awk -v t="$1" -v op="$2" -v vals="$3" -v smoke="$SMOKE" 'BEGIN { n = split(vals, v, " "); m = 0; k = 0; for (i = 1; i <= n; i++) { if (v[i] == "n/a") continue; m++; if ((op == ">=" && v[i] + 0 >= t + 0) || (op == "<=" && v[i] + 0 <= t + 0)) k++ } if (m == 0) print "not measured"; else if (smoke == 1) print "not judged (smoke run)"; else if (k == m) print "met in " m " of " m " rounds"; else if (k == 0) print "NOT met in any of " m " rounds"; else print "not shown: met in " k " of " m " rounds" }'; }
# A verdict table row: name, median value, target, op, each round's value; the verdict from the rounds.
verdict_row() { echo "| $1 | $2 | $(echo "$5" | sed 's# # / #g') | $4 $3 | $(round_verdict "$3" "$4" "$5") |"; }

mkdir -p "$(dirname "$OUT")"
BASE=${ROW_LABEL[0]}
{
  echo "# Side-by-side benchmark results ($PRESET)"
  echo
  if [ "$SMOKE" -eq 1 ]; then echo "**Smoke run** (a few seconds; numbers are not meaningful)."; echo; fi
  echo "- command: \`load/bench.sh $ARGS\` with targets $PATHS, $ROUNDS round(s), $DURATION per measurement, $WARMUP uncounted warm-up each, $([ "$WARM_ROUND" = 0 ] && echo "no uncounted warm-up pass before round 1" || echo "after one uncounted $WARM_ROUND closed-model pass per row before round 1")"
  echo "- date: $RUN_STARTED to $(date -u '+%H:%M UTC'); commit $COMMIT_MEASURED; $(nproc) CPU cores shared by the load generator, the backend and every proxy; load average before the run: $LOAD_BEFORE"
  echo "- backend: $BACKEND_NAME; load: edge-load scenario \`$SCENARIO\` with ${PARAMS[*]:-no extra parameters}; routes: ${ROUTES[*]}"
  echo "- throughput: closed model, $COPIES copies (\`constant:copies=$COPIES,during=$DURATION\`); latency: open model at $RATE/s (\`inject:rate=$RATE,during=$DURATION\`), measured from the intended send time"
  if has_path nginx; then echo "- nginx: $(nginx -v 2>&1 | sed 's/nginx version: //'), worker_processes auto, upstream keepalive 256, access_log off"; fi
  if has_path yarp-wks; then echo "- \`yarp-wks\`: bare YARP as \`yarp\`, with environment \`DOTNET_gcServer=0\` (Workstation GC)"; fi
  for p in "${SELECTED[@]}"; do
    if [ -n "${TARGET_CONFIG[$p]:-}" ]; then echo "- \`$p\`: \`${TARGET_CONFIG[$p]}\`$([ -n "${TARGET_ENV[$p]:-}" ] && echo " with environment \`${TARGET_ENV[$p]% }\`") on Redis (redis-server on loopback), audit $([ "${TARGET_WRITER[$p]}" = 1 ] && echo "to the writer (separate Edge.AuditWriter process, spool on local disk)" || echo "on shipped defaults (no writer: buffered local NDJSON file)")"; fi
  done
  if [ -n "${WRITER_ENV:-}" ] && needs_writer; then echo "- the audit writer ran with environment \`$WRITER_ENV\`"; fi
  if has_path edge || has_path edge-noaudit; then echo "- edge: \`$EDGE_CONFIG\` on Redis ($([ "$REDIS_CLUSTER" -eq 1 ] && echo "a 3-master Redis Cluster, ${#REDIS_PORTS[@]} redis-server processes" || echo "one redis-server") on loopback), $EDGE_COUNT edge instance(s)$([ "$EDGE_COUNT" -eq 2 ] && echo " (requests alternate between them; decisions, fallbacks summed)"); \`edge\`: audit writer $(has_path edge && [ "${NO_AUDIT:-0}" != 1 ] && echo "on (separate Edge.AuditWriter process, spool on local disk)" || echo "off (shipped default: decisions go to a buffered local NDJSON file)")$(has_path edge-noaudit && echo "; \`edge-noaudit\`: the same edge without an audit writer"); extra arguments: ${EDGE_ARGS[*]:-none}"; fi
  echo "- values are medians over rounds; the order of rows rotates every round; ratios are to the first row, \`$BASE\`, from the same run (\"ratio per round\": each round's own, rounds in order)"
  echo
  echo "| target | max RPS | ratio to $BASE | ratio per round | p50 ms at max | p99 ms at max | p50 ms at $RATE/s | p99 ms at $RATE/s | p99 added at $RATE/s (ms) | failed requests | Redis calls per rate-limit decision | rate-limit fallbacks |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for label in "${ROW_LABEL[@]}"; do
    echo "| $label | $(stat "$label" max 4) | $(ratio "$(stat "$label" max 4)" "$(stat "$BASE" max 4)") | $(round_ratios "$label" "$BASE" "$WORK/samples.txt") | $(stat "$label" max 5) | $(stat "$label" max 6) | $(stat "$label" rate 5) | $(stat "$label" rate 6) | $([ "$label" = "$BASE" ] && echo "-" || diff_ms "$(stat "$label" rate 6)" "$(stat "$BASE" rate 6)") | $(fails "$label") | $(per_decision "$label") | $(fallback_count "$label") |"
  done
  echo
  echo "CPU per request at the fixed rate ($RATE/s; utime + stime from /proc/PID/stat over the warm-up and the measured phase, divided by the requests sent in both; 1 clock tick = $((1000000 / HZ)) µs): the proxy (the backend for \`direct\`; nginx counts master and workers), the backend, Redis (edge rows), and the audit writer per record (edges that ship to it; one record per request). Allocated bytes per request: the proxy process's GC counter over the same phase (bare YARP and edges; the added column is over \`$BASE\`)."
  echo
  echo "The last two columns are from the closed-model phase at saturation (max RPS), where CPU per request is what limits throughput; the fixed-rate figures include the idle overhead of a process at $RATE/s."
  echo
  echo "| target | proxy CPU µs/request | backend CPU µs/request | Redis CPU µs/request | writer CPU µs/record | proxy allocated bytes/request | added over $BASE | proxy CPU µs/request at max | writer CPU µs/record at max |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  base_alloc=$(stat_opt "$BASE" 16)
  for label in "${ROW_LABEL[@]}"; do
    al=$(stat_opt "$label" 16)
    echo "| $label | $(stat_opt "$label" 12) | $(stat_opt "$label" 13) | $(stat_opt "$label" 14) | $(stat_opt "$label" 15) | $al | $([ "$label" = "$BASE" ] && echo "-" || minus "$al" "$base_alloc") | $(stat_opt "$label" 12 max) | $(stat_opt "$label" 15 max) |"
  done
  echo
  # The hot-path targets (issue 13), when this run has bare YARP and the three edges of the proxies preset.
  if has_path yarp && has_path edge-tenant && has_path edge-lease && has_path edge-strict; then
    yarp_rps=$(stat yarp max 4); yarp_p99=$(stat yarp rate 6); yarp_alloc=$(stat_opt yarp 16)
    echo "Verdicts are judged round by round (each round's own ratio or difference, as in the first table's \`ratio per round\`): \"met\" needs every round, \"NOT met\" means no round met it, and \"not shown\" means rounds fell on both sides, which this run cannot decide."
    echo
    echo "| target (issue 13) | value (medians) | per round | target | verdict |"
    echo "|---|---:|---:|---:|---|"
    S="$WORK/samples.txt"
    verdict_row "edge-tenant / bare YARP throughput" "$(ratio "$(stat edge-tenant max 4)" "$yarp_rps")" 0.95 '>=' "$(round_values ratio edge-tenant yarp 4 max - "$S")"
    verdict_row "edge-lease / bare YARP throughput" "$(ratio "$(stat edge-lease max 4)" "$yarp_rps")" 0.80 '>=' "$(round_values ratio edge-lease yarp 4 max - "$S")"
    verdict_row "edge-strict / bare YARP throughput" "$(ratio "$(stat edge-strict max 4)" "$yarp_rps")" 0.65 '>=' "$(round_values ratio edge-strict yarp 4 max - "$S")"
    verdict_row "edge-lease p99 added at $RATE/s (ms)" "$(diff_ms "$(stat edge-lease rate 6)" "$yarp_p99")" 1 '<=' "$(round_values added edge-lease yarp 6 rate %+.3f "$S")"
    verdict_row "edge-strict p99 added at $RATE/s (ms)" "$(diff_ms "$(stat edge-strict rate 6)" "$yarp_p99")" 2 '<=' "$(round_values added edge-strict yarp 6 rate %+.3f "$S")"
    verdict_row "edge-lease allocated bytes/request added" "$(minus "$(stat_opt edge-lease 16)" "$yarp_alloc")" 2048 '<=' "$(round_values added edge-lease yarp 16 rate %+.0f "$S")"
    verdict_row "writer CPU µs/record (with edge-lease)" "$(stat_opt edge-lease 15)" 10 '<=' "$(round_values value edge-lease yarp 15 rate - "$S")"
    echo
  fi
  if has_path edge && [ ${#ROUTES[@]} -eq 1 ] && { has_path yarp || has_path nginx; }; then
    edge_rps=$(stat edge max 4); edge_p99=$(stat edge rate 6)
    echo "| ratio | value (medians) | per round | target | verdict |"
    echo "|---|---:|---:|---:|---|"
    if has_path yarp; then
      verdict_row "Edge / bare YARP throughput" "$(ratio "$edge_rps" "$(stat yarp max 4)")" 0.90 '>=' "$(round_values ratio edge yarp 4 max - "$WORK/samples.txt")"
      verdict_row "Edge p99 added over bare YARP at $RATE/s (ms)" "$(diff_ms "$edge_p99" "$(stat yarp rate 6)")" 1 '<=' "$(round_values added edge yarp 6 rate %+.3f "$WORK/samples.txt")"
    fi
    if has_path nginx; then
      verdict_row "Edge / nginx throughput" "$(ratio "$edge_rps" "$(stat nginx max 4)")" 0.75 '>=' "$(round_values ratio edge nginx 4 max - "$WORK/samples.txt")"
    fi
    echo
  fi
  if [ -n "$CROSS_CHECK" ]; then
    G="$WORK/generators.txt"
    awk '$3 == "wrk" { $3 = "max"; print }' "$G" > "$WORK/generators-wrk.txt"
    awk '$3 == "edge-load" { $3 = "max"; print }' "$G" > "$WORK/generators-edge-load.txt"
    echo "**Cross-check with wrk.** Right after each row's edge-load throughput run, \`wrk -t1 -c$COPIES -d$(whole_seconds "$DURATION")s\` sent that row's request as one fixed request (the same path and tenant header$([ "$SCENARIO" = jwt-rbac ] && echo ", and one HS256 token with the same claims where edge-load rotates its users' tokens")), after an uncounted run of $WARMUP. Both generators share the cores with the processes they measure, so the one that spends more CPU per request leaves the proxies less and narrows the ratios between rows: read the two ratio columns side by side. Generator CPU: the generator process's utime + stime over its measured run, per request it completed (edge-load's includes its start-up and warm-up, each .NET process's own)."
    echo
    echo "| target | wrk max RPS | ratio to $BASE | ratio per round | edge-load max RPS | ratio to $BASE | wrk non-2xx / socket errors | wrk CPU µs/request | edge-load CPU µs/request |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    wrk_base=$(gen_stat wrk "$BASE" 4); el_base=$(gen_stat edge-load "$BASE" 4)
    for label in "${ROW_LABEL[@]}"; do
      wr=$(gen_stat wrk "$label" 4); er=$(gen_stat edge-load "$label" 4)
      echo "| $label | $wr | $(ratio "$wr" "$wrk_base" | sed 's#^n/a$#-#') | $(round_ratios "$label" "$BASE" "$WORK/generators-wrk.txt") | $er | $(ratio "$er" "$el_base" | sed 's#^n/a$#-#') | $(awk -v p="$label" '$2 == p && $3 == "wrk" && $4 != "-" { b += $5; e += $6; n++ } END { print (n ? b " / " e : "-") }' "$G") | $(gen_stat wrk "$label" 7) | $(gen_stat edge-load "$label" 7) |"
    done
    echo
  fi
  echo "Raw samples (round target mode rps p50 p99 ok fail rate-limit-decisions redis-script-calls rate-limit-fallbacks proxy-cpu-us backend-cpu-us redis-cpu-us writer-cpu-us proxy-alloc-bytes, the last five per request (max rows: proxy and writer only); decisions and calls include the warm-up; load average after each round below):"
  echo
  echo '```'
  cat "$WORK/samples.txt"
  cat "$WORK/loadavg.txt"
  if [ -n "$CROSS_CHECK" ]; then echo "cross-check samples (round target generator rps non-2xx socket-errors generator-cpu-us/request):"; cat "$WORK/generators.txt"; fi
  echo '```'
} > "$OUT"
if [ "$DECISIONS" -eq 1 ]; then
  run_decisions "$WORK/decisions.md"
  { echo; echo "## Decision-only harness (same run)"; echo; sed 's/^# /### /' "$WORK/decisions.md"; } >> "$OUT"
fi
keep_fallback_lines
{ echo; echo "Rate-limit warnings of the edges and the harness (failed calls with their reason, breaker transitions): $(wc -l < "$FALLBACK_LOG") line(s) in \`$FALLBACK_LOG\`."; } >> "$OUT"

log "wrote $OUT"
cat "$OUT"
KEEP_WORK=0
