#!/usr/bin/env bash
# Query speed of the audit writer's GET /audit/records at a large store (issue 14 item 6); results in
# load/results/audit.md. Fills a store with 'edge-load audit-fill' (kept between runs), starts a Release writer on it,
# waits for the checkpoint over all records, then runs the audit-query scenario (one step per filter) open-model.
# audit-fill appends through the writer's own code (v2 records, subjects encrypted, blind index rows) with the keys the
# writer is started with, so ?principal= goes through the blind index as in production. A store filled before that
# change holds v1 records; hence the new default directory.
#   load/bench-audit-query.sh [records=1000000] [rate=100] [duration=30s] [dir=/tmp/edge-audit-query-v2]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RECORDS=${1:-1000000}
RATE=${2:-100}
DURATION=${3:-30s}
DIR=${4:-/tmp/edge-audit-query-v2}
PORT=${PORT:-9931}
PRINCIPALS=${PRINCIPALS:-10000}   # distinct principals; each (principal, tenant) pair becomes one subject row with its data key
mkdir -p "$DIR"

dotnet build load/Edge.Load -c Release -v q -nologo >/dev/null
dotnet build src/Edge.AuditWriter -c Release -v q -nologo >/dev/null
dotnet load/Edge.Load/bin/Release/net10.0/edge-load.dll audit-fill --store "$DIR/audit.db" --records "$RECORDS" --principals "$PRINCIPALS" \
  --key "$DIR/writer.key" --subject-key "$DIR/audit-subject.key" --origin bench/audit

export EDGE_AUDIT_API_KEY=bench-auditor-key-0123456789
SHA=$(printf '%s' "$EDGE_AUDIT_API_KEY" | sha256sum | cut -d' ' -f1)
cat > "$DIR/proxy.json" <<JSON
{
  "ReverseProxy": { "Routes": {}, "Clusters": {} },
  "Edge": {
    "Authentication": { "auditors": { "Type": "ApiKey", "Header": "X-Api-Key", "Keys": [
      { "Sha256": "$SHA", "Principal": "bench-auditor", "Tenant": "ops", "Roles": [ "Auditor" ] } ] } },
    "Roles": { "Auditor": [ "audit.read.all" ] }
  }
}
JSON

dotnet src/Edge.AuditWriter/bin/Release/net10.0/Edge.AuditWriter.dll --urls "http://127.0.0.1:$PORT" \
  --Writer:StorePath="$DIR/audit.db" --Writer:KeyPath="$DIR/writer.key" --Writer:SubjectKeyPath="$DIR/audit-subject.key" --Writer:Origin=bench/audit \
  --Writer:ProxyConfigPath="$DIR/proxy.json" --Writer:Authentication=auditors --Serilog:MinimumLevel:Default=Warning &
WRITER=$!
trap 'kill $WRITER 2>/dev/null || true; wait $WRITER 2>/dev/null || true' EXIT

for _ in $(seq 1 600); do
  if [ "$(curl -fs "http://127.0.0.1:$PORT/audit/checkpoint" 2>/dev/null | sed -n 2p)" = "$RECORDS" ]; then break; fi
  sleep 0.5
done
curl -fs "http://127.0.0.1:$PORT/audit/checkpoint" | sed -n 2p | grep -qx "$RECORDS" || { echo "no checkpoint over $RECORDS records" >&2; exit 3; }

echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
dotnet load/Edge.Load/bin/Release/net10.0/edge-load.dll run -s audit-query -t "http://127.0.0.1:$PORT" \
  -p records="$RECORDS" -p principals="$PRINCIPALS" --simulation "inject:rate=$RATE,during=$DURATION" --warmup 5s \
  -o "load/reports/audit-query-$RECORDS" --threshold "p99<50ms" --threshold "fail%<1" --quiet || STATUS=$?
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "report: load/reports/audit-query-$RECORDS/report.md"
exit "${STATUS:-0}"
