#!/usr/bin/env bash
# Side-by-side benchmark: the same load against four paths to one fast loopback backend, in alternating rounds:
#   direct  -> backend
#   nginx   -> Debian nginx, proxy_pass with upstream keepalive (own prefix and config, not the system service)
#   yarp    -> bare YARP, same route, no Edge steps (load/bench/proxy.bare.json)
#   edge    -> Edge.Proxy with the full pipeline (load/bench/proxy.full.json: tenant, JWT + RBAC, Redis rate limit, audit)
# Writes load/RESULTS.md (or, with --smoke, load/reports/bench-smoke.md). Cleans up every process it started.
#
#   load/bench.sh                      full run (3 rounds x 10 s per mode and path)
#   load/bench.sh --smoke              a few seconds, to check the script works
#   load/bench.sh --paths direct,nginx,yarp --edge-config load/bench/proxy.tenant.json --rounds 5 --duration 15s
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

PATHS="direct,nginx,yarp,edge"
ROUNDS=3
DURATION=10s
WARMUP=2s
COPIES=32
RATE=1000
EDGE_CONFIG=load/bench/proxy.full.json
OUT=load/RESULTS.md
SMOKE=0
EDGE_ARGS=()
ARGS="$*"

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; echo "options: --smoke --paths LIST --rounds N --duration D --warmup D --copies N --rate N --edge-config FILE --edge-arg ARG --out FILE"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) SMOKE=1; ROUNDS=1; DURATION=2s; WARMUP=1s; COPIES=8; RATE=200; OUT=load/reports/bench-smoke.md ;;
    --paths) PATHS=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --copies) COPIES=$2; shift ;;
    --rate) RATE=$2; shift ;;
    --edge-config) EDGE_CONFIG=$2; shift ;;
    --edge-arg) EDGE_ARGS+=("$2"); shift ;;
    --out) OUT=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

IFS=',' read -r -a SELECTED <<< "$PATHS"
for p in "${SELECTED[@]}"; do
  case "$p" in direct|nginx|yarp|edge) ;; *) echo "bench: unknown path '$p' (direct, nginx, yarp, edge)" >&2; exit 2 ;; esac
done
has_path() { [[ ",$PATHS," == *",$1,"* ]]; }

WORK=$(mktemp -d /tmp/edge-bench.XXXXXX)
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

# A free loopback port at or above $1 (nothing answers a TCP connect there).
free_port() {
  local port
  for port in $(seq "$1" $(( $1 + 500 ))); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
  done
  fail "no free port in $1..$(( $1 + 500 ))"
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

start() { # name logfile command...
  local name=$1 logfile=$2; shift 2
  "$@" >"$logfile" 2>&1 &
  PIDS+=($!)
  LAST_PID=$!
  log "started $name (pid $LAST_PID)"
}

command -v curl >/dev/null || fail "curl is missing (apt-get install -y curl)"
if has_path nginx; then command -v nginx >/dev/null || fail "nginx is missing: apt-get update && apt-get install -y nginx-light (or drop it: --paths direct,yarp,edge)"; fi
if has_path edge; then
  command -v redis-server >/dev/null || fail "redis-server is missing: apt-get update && apt-get install -y redis-server"
  [ -f "$EDGE_CONFIG" ] || fail "edge config $EDGE_CONFIG does not exist"
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
build() {
  log "building $1 (Release)"
  timeout 900 dotnet build "$1" -c Release -v q -nologo >"$WORK/build-$(basename "$1").log" 2>&1 \
    || { tail -n 20 "$WORK/build-$(basename "$1").log" >&2; fail "build of $1 failed"; }
}
build load/Edge.Load
build load/Edge.Load.BenchHost
LOAD="dotnet load/Edge.Load/bin/Release/net10.0/edge-load.dll"
BENCH_HOST="dotnet load/Edge.Load.BenchHost/bin/Release/net10.0/edge-bench-host.dll"

# The backend: the demo backend's /fast endpoint when it exists, else the bench host's minimal backend.
BACKEND_PORT=$(free_port 18100)
if [ -f src/Edge.DemoBackend/Edge.DemoBackend.csproj ] && grep -q '"/fast"' src/Edge.DemoBackend/Program.cs 2>/dev/null; then
  build src/Edge.DemoBackend
  BACKEND_NAME="src/Edge.DemoBackend (GET /fast)"
  start backend "$WORK/backend.log" dotnet src/Edge.DemoBackend/bin/Release/net10.0/Edge.DemoBackend.dll --urls "http://127.0.0.1:$BACKEND_PORT"
else
  BACKEND_NAME="load/Edge.Load.BenchHost backend"
  start backend "$WORK/backend.log" $BENCH_HOST backend --urls "http://127.0.0.1:$BACKEND_PORT"
fi
wait_http backend "http://127.0.0.1:$BACKEND_PORT/fast" "$LAST_PID" "$WORK/backend.log"

declare -A URL
URL[direct]="http://127.0.0.1:$BACKEND_PORT"

with_backend_port() { sed "s#http://127.0.0.1:5100/#http://127.0.0.1:$BACKEND_PORT/#" "$1" > "$2"; }

if has_path nginx; then
  NGINX_PORT=$(free_port 18200)
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
  YARP_PORT=$(free_port 18300)
  with_backend_port load/bench/proxy.bare.json "$WORK/proxy.bare.json"
  start yarp "$WORK/yarp.log" $BENCH_HOST yarp --config "$WORK/proxy.bare.json" --urls "http://127.0.0.1:$YARP_PORT"
  wait_http "bare YARP" "http://127.0.0.1:$YARP_PORT/fast" "$LAST_PID" "$WORK/yarp.log"
  URL[yarp]="http://127.0.0.1:$YARP_PORT"
fi

# A throwaway HS256 key for this run only: tokens minted by edge-load, verified by the edge.
EDGE_JWT_HS256_KEY=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=' | head -c 48)
export EDGE_JWT_HS256_KEY

if has_path edge; then
  [ -f src/Edge.Proxy/Edge.Proxy.csproj ] || fail "src/Edge.Proxy is missing"
  build src/Edge.Proxy
  REDIS_PORT=$(free_port 18400)
  start redis "$WORK/redis.log" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --daemonize no
  for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG || fail "redis-server did not answer PING on $REDIS_PORT (see $WORK/redis.log)"
  EDGE_PORT=$(free_port 18500)
  MGMT_PORT=$(free_port 18600)
  with_backend_port "$EDGE_CONFIG" "$WORK/proxy.edge.json"
  # Audit on: a separate writer process, and the edge spooling every decision to it (as run.sh does).
  AUDIT_ARGS=()
  if [ "${NO_AUDIT:-0}" != 1 ]; then
    build src/Edge.AuditWriter
    WRITER_PORT=$(free_port 18700)
    start writer "$WORK/writer.log" dotnet src/Edge.AuditWriter/bin/Release/net10.0/Edge.AuditWriter.dll \
      --urls "http://127.0.0.1:$WRITER_PORT" --Writer:StorePath="$WORK/audit.db" --Writer:KeyPath="$WORK/writer.key" \
      --Writer:Origin=edge-bench/audit
    WRITER_PID=$LAST_PID
    wait_http writer "http://127.0.0.1:$WRITER_PORT/audit/checkpoint" "$WRITER_PID" "$WORK/writer.log"
    AUDIT_ARGS=(--Edge:Audit:WriterUrl="http://127.0.0.1:$WRITER_PORT" --Edge:Audit:SpoolPath="$WORK/spool")
  fi
  start edge "$WORK/edge.log" dotnet src/Edge.Proxy/bin/Release/net10.0/Edge.Proxy.dll \
    --urls "http://127.0.0.1:$EDGE_PORT" --Edge:ManagementUrls="http://127.0.0.1:$MGMT_PORT" \
    --Edge:ProxyConfigPath="$WORK/proxy.edge.json" --Edge:Redis="127.0.0.1:$REDIS_PORT" "${AUDIT_ARGS[@]}" "${EDGE_ARGS[@]}"
  EDGE_PID=$LAST_PID
  wait_http edge "http://127.0.0.1:$MGMT_PORT/readyz" "$EDGE_PID" "$WORK/edge.log"
  # Preflight: one real request through the pipeline must pass every step, or the numbers would measure denials.
  TOKEN=$($LOAD token --key env:EDGE_JWT_HS256_KEY --tenant acme --roles Agent) || fail "edge-load token failed"
  status=$(curl -s -o "$WORK/preflight.body" -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $TOKEN" -H "X-Tenant-ID: acme" "http://127.0.0.1:$EDGE_PORT/fast" || true)
  if [ "$status" != 200 ]; then
    echo "---- preflight response ----" >&2; head -c 600 "$WORK/preflight.body" >&2 || true; echo >&2
    echo "---- last lines of $WORK/edge.log ----" >&2; tail -n 20 "$WORK/edge.log" >&2 || true
    fail "the edge answered $status (not 200) through $EDGE_CONFIG; a pipeline step is missing or misconfigured"
  fi
  URL[edge]="http://127.0.0.1:$EDGE_PORT"
fi

# One measurement: mode "max" (closed model, $COPIES copies: throughput) or "rate" (open model, $RATE/s: latency).
measure() { # round path mode
  local round=$1 path=$2 mode=$3 sim folder
  if [ "$mode" = max ]; then sim="constant:copies=$COPIES,during=$DURATION"; else sim="inject:rate=$RATE,during=$DURATION"; fi
  folder="$WORK/reports/r$round-$path-$mode"
  $LOAD run --scenario jwt-rbac --target "${URL[$path]}" --param path=/fast --param tenant=acme --param roles=Agent \
    --simulation "$sim" --warmup "$WARMUP" --report-folder "$folder" --quiet >"$folder.log" 2>&1 \
    || { tail -n 20 "$folder.log" >&2; fail "edge-load failed against $path ($mode)"; }
  # scenario,step,outcome,count,rps,min,mean,max,stddev,p50,p75,p95,p99,...
  awk -F, -v r="$round" -v p="$path" -v m="$mode" '
    $2=="global" && $3=="ok"   { ok=$4; rps=$5; p50=$10; p99=$13 }
    $2=="global" && $3=="fail" { fail=$4 }
    END { print r, p, m, rps, p50, p99, ok, fail }' "$folder/report.csv" >> "$WORK/samples.txt"
  log "round $round $path $mode: $(tail -n 1 "$WORK/samples.txt" | awk '{printf "rps=%s p50=%sms p99=%sms ok=%s fail=%s", $4, $5, $6, $7, $8}')"
}

mkdir -p "$WORK/reports"
: > "$WORK/samples.txt"
for round in $(seq 1 "$ROUNDS"); do
  # Rotate the order every round so no path always runs first (warm caches) or last (thermal, noisy neighbours).
  order=()
  n=${#SELECTED[@]}
  for i in $(seq 0 $(( n - 1 ))); do order+=("${SELECTED[$(( (i + round - 1) % n ))]}"); done
  for path in "${order[@]}"; do
    measure "$round" "$path" max
    measure "$round" "$path" rate
  done
done

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
stat() { awk -v p="$1" -v m="$2" -v c="$3" '$2==p && $3==m { print $c }' "$WORK/samples.txt" | median; }
fails() { awk -v p="$1" '$2==p { s += $8 } END { print s + 0 }' "$WORK/samples.txt"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "" || b == "nan" || a == "nan" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan") print "n/a"; else printf "%+.3f", a - b }'; }
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { if (v == "n/a") print "not measured"; else if ((op == ">=" && v + 0 >= t + 0) || (op == "<=" && v + 0 <= t + 0)) print "met"; else print "NOT met" }'; }

mkdir -p "$(dirname "$OUT")"
{
  echo "# Side-by-side benchmark results"
  echo
  if [ "$SMOKE" -eq 1 ]; then echo "**Smoke run** (a few seconds; numbers are not meaningful)."; echo; fi
  echo "- command: \`load/bench.sh $ARGS\` with paths $PATHS, $ROUNDS round(s), $DURATION per measurement, $WARMUP uncounted warm-up each"
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'); $(nproc) CPU cores shared by the load generator, the backend and every proxy; load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- backend: $BACKEND_NAME; load: edge-load scenario \`jwt-rbac\` (GET /fast with a Bearer HS256 token and X-Tenant-ID on every path)"
  echo "- throughput: closed model, $COPIES copies (\`constant:copies=$COPIES,during=$DURATION\`); latency: open model at $RATE/s (\`inject:rate=$RATE,during=$DURATION\`), measured from the intended send time"
  if has_path nginx; then echo "- nginx: $(nginx -v 2>&1 | sed 's/nginx version: //'), worker_processes auto, upstream keepalive 256, access_log off"; fi
  if has_path edge; then echo "- edge: \`$EDGE_CONFIG\` on Redis (redis-server on loopback), audit writer: $([ "${NO_AUDIT:-0}" = 1 ] && echo "off (NO_AUDIT=1; decisions go to the logging sink)" || echo "on (separate Edge.AuditWriter process, spool on local disk)"); extra arguments: ${EDGE_ARGS[*]:-none}"; fi
  echo "- values are medians over rounds; the order of paths rotates every round"
  echo
  echo "| path | max RPS | p50 ms at max | p99 ms at max | p50 ms at $RATE/s | p99 ms at $RATE/s | failed requests |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for p in "${SELECTED[@]}"; do
    echo "| $p | $(stat "$p" max 4) | $(stat "$p" max 5) | $(stat "$p" max 6) | $(stat "$p" rate 5) | $(stat "$p" rate 6) | $(fails "$p") |"
  done
  echo
  if has_path edge; then
    edge_rps=$(stat edge max 4); edge_p99=$(stat edge rate 6)
    echo "| ratio | value | target | verdict |"
    echo "|---|---:|---:|---|"
    if has_path yarp; then
      r=$(ratio "$edge_rps" "$(stat yarp max 4)"); echo "| Edge / bare YARP throughput | $r | >= 0.90 | $(verdict "$r" 0.90 '>=') |"
      d=$(diff_ms "$edge_p99" "$(stat yarp rate 6)"); echo "| Edge p99 added over bare YARP at $RATE/s (ms) | $d | <= 1 | $(verdict "$d" 1 '<=') |"
    fi
    if has_path nginx; then
      r=$(ratio "$edge_rps" "$(stat nginx max 4)"); echo "| Edge / nginx throughput | $r | >= 0.75 | $(verdict "$r" 0.75 '>=') |"
    fi
    echo
  fi
  echo "Raw samples (round path mode rps p50 p99 ok fail):"
  echo
  echo '```'
  cat "$WORK/samples.txt"
  echo '```'
} > "$OUT"

log "wrote $OUT"
cat "$OUT"
KEEP_WORK=0
