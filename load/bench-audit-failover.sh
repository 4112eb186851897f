#!/usr/bin/env bash
# Failover time of the audit writer on PostgreSQL: two Release writers share a fresh PostgreSQL (load/postgres.sh,
# durable defaults); the sequencer is killed with SIGKILL and the clock runs until the standby acknowledges its first
# ingest batch (a one-record batch posted every 10 ms from the moment of the kill). The killed writer is restarted as
# the new standby and the next round kills the other one. Results in load/results/audit.md.
#   load/bench-audit-failover.sh [rounds=5] [lease-interval=00:00:01]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ROUNDS=${1:-5}
LEASE=${2:-00:00:01}
PORTS=(${PORT_A:-9951} ${PORT_B:-9952})
PG_PORT=${PG_PORT:-9953}
DIR=$(mktemp -d /tmp/edge-audit-failover.XXXXXX)
source "$ROOT/load/postgres.sh"

dotnet build src/Edge.AuditWriter -c Release -v q -nologo >/dev/null
WRITER_DLL=src/Edge.AuditWriter/bin/Release/net10.0/Edge.AuditWriter.dll
pg_start "$DIR/pg" "$PG_PORT"
export EDGE_AUDIT_PG="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=postgres"
PIDS=(0 0)
trap 'for p in "${PIDS[@]}"; do kill -9 $p 2>/dev/null || true; done; pg_stop "$DIR/pg"; rm -rf "$DIR"' EXIT

start_writer() { # index
  dotnet "$WRITER_DLL" --urls "http://127.0.0.1:${PORTS[$1]}" --Writer:Postgres=env:EDGE_AUDIT_PG \
    --Writer:KeyPath="$DIR/writer.key" --Writer:SubjectKeyPath="$DIR/subject.key" --Writer:Origin=bench/failover \
    --Writer:LeaseInterval="$LEASE" --Serilog:MinimumLevel:Default=Error >"$DIR/writer-$1.log" 2>&1 &
  PIDS[$1]=$!
}

wait_role() { # index role
  for _ in $(seq 1 300); do
    curl -fs "http://127.0.0.1:${PORTS[$1]}/readyz" 2>/dev/null | grep -q "\"$2\"" && return 0
    sleep 0.1
  done
  echo "writer $1 did not become $2" >&2; cat "$DIR/writer-$1.log" >&2; return 1
}

post_one() { # index id -> HTTP status
  printf '{"specversion":"1.0","id":"%s","source":"edge://bench","type":"dev.edge.audit.request.v1","time":"%s","tenant":"acme","data":{"instance":"bench","route":"orders","decision":"allow","subject":{"principal":"user-1","clientIp":"127.0.0.1"}}}\n' \
    "$2" "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" |
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X POST -H 'Content-Type: application/x-ndjson' -H 'Edge-Audit-Last-Sequence: 1' \
      --data-binary @- "http://127.0.0.1:${PORTS[$1]}/audit/ingest" || true
}

start_writer 0
wait_role 0 sequencer
start_writer 1
wait_role 1 standby
[ "$(post_one 1 probe-standby)" = 503 ] || { echo "the standby did not refuse ingest with 503" >&2; exit 1; }
for i in $(seq 1 50); do [ "$(post_one 0 warm-$i)" = 200 ] || { echo "warm-up ingest failed" >&2; exit 1; }; done

leader=0
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| round | load avg | kill -9 -> standby's first acknowledged batch (ms) | refused tries |"
echo "|---:|---:|---:|---:|"
for round in $(seq 1 "$ROUNDS"); do
  standby=$((1 - leader))
  start=$(date +%s%N)
  kill -9 "${PIDS[$leader]}"
  tries=0
  while [ "$(post_one "$standby" "r$round-$tries")" != 200 ]; do
    tries=$((tries + 1))
    [ $tries -lt 3000 ] || { echo "no takeover within 30 s" >&2; exit 1; }
    sleep 0.01
  done
  elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
  echo "| $round | $(cut -d' ' -f1 /proc/loadavg) | $elapsed | $tries |"
  { wait "${PIDS[$leader]}"; } 2>/dev/null || true
  start_writer "$leader"
  wait_role "$leader" standby
  leader=$standby
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
