#!/usr/bin/env bash
# The audit writer on its own (issue 13 targets: <= 10 us CPU per record, >= 50k records/s ingested and checkpointed,
# subjects encrypted per subject, i.e. v2 records). Starts a Release writer on a fresh store, then 'edge-load
# audit-ingest' posts edge-shaped NDJSON batches like a shipper and reads the writer's CPU from /proc/PID/stat.
# Results in load/results/audit.md.
#   load/bench-audit-ingest.sh [records=200000] [rounds=3] [batch=2000] [concurrency=1] [encoding=identity]
# WRITER_DLL=path runs another build of the writer (e.g. an older commit's, for a before/after pair in one run).
# INGEST_ARGS="--principals 100 --tenants 4" passes more options to 'edge-load audit-ingest' (the dataset's shape).
# STORE=postgres stores in a fresh PostgreSQL (Debian's postgresql package: initdb + pg_ctl in the temp dir, as the
# postgres user when root; default durability: fsync and synchronous_commit on) instead of the SQLite file.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RECORDS=${1:-200000}
ROUNDS=${2:-3}
BATCH=${3:-2000}
CONCURRENCY=${4:-1}
ENCODING=${5:-identity}
PORT=${PORT:-9941}
STORE=${STORE:-sqlite}
PG_PORT=${PG_PORT:-9943}
DIR=$(mktemp -d /tmp/edge-audit-ingest.XXXXXX)

dotnet build load/Edge.Load -c Release -v q -nologo >/dev/null
dotnet build src/Edge.AuditWriter -c Release -v q -nologo >/dev/null

export EDGE_AUDIT_INGEST_TOKEN=bench-ingest-token-0123456789
STORE_ARGS=(--Writer:StorePath="$DIR/audit.db")
PG_STOP=true
if [ "$STORE" = postgres ]; then
  source "$ROOT/load/postgres.sh"
  pg_start "$DIR/pg" "$PG_PORT"
  PG_STOP="pg_stop $DIR/pg"
  export EDGE_AUDIT_PG="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=postgres"
  STORE_ARGS=(--Writer:Postgres=env:EDGE_AUDIT_PG)
fi
WRITER_DLL=${WRITER_DLL:-src/Edge.AuditWriter/bin/Release/net10.0/Edge.AuditWriter.dll}
dotnet "$WRITER_DLL" --urls "http://127.0.0.1:$PORT" \
  "${STORE_ARGS[@]}" --Writer:KeyPath="$DIR/writer.key" --Writer:SubjectKeyPath="$DIR/audit-subject.key" \
  --Writer:Origin=bench/ingest --Writer:IngestToken=env:EDGE_AUDIT_INGEST_TOKEN --Serilog:MinimumLevel:Default=Warning &
WRITER=$!
trap 'kill $WRITER 2>/dev/null || true; wait $WRITER 2>/dev/null || true; $PG_STOP; rm -rf "$DIR"' EXIT

# A PostgreSQL store starts as a standby and sequences once it holds the lease (its first lease tick).
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/readyz" 2>/dev/null | grep -q '"sequencer"' && break
  curl -fs "http://127.0.0.1:$PORT/audit/checkpoint" >/dev/null 2>&1 && [ "$STORE" = sqlite ] && break
  sleep 0.2
done
echo "store: $STORE"

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
dotnet load/Edge.Load/bin/Release/net10.0/edge-load.dll audit-ingest --target "http://127.0.0.1:$PORT" --writer-pid "$WRITER" \
  --records "$RECORDS" --rounds "$ROUNDS" --batch "$BATCH" --concurrency "$CONCURRENCY" --encoding "$ENCODING" \
  --token env:EDGE_AUDIT_INGEST_TOKEN ${INGEST_ARGS:-}
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "store size: $(du -sh "$DIR" | cut -f1) for $((RECORDS * ROUNDS)) records"
