#!/usr/bin/env bash
# Writer start-up at a large store (issue 17 item 3); results in load/results/audit.md, section "Writer restart".
# For each size: fills a store, starts a Release writer on it once (a store without tiles gets them built then: the
# one-time migration), stops it, and starts it again (the restart). Each start is timed from the process launch to the
# first /checkpoint over every record, and the writer's RSS is read from /proc once it answers.
#   load/bench-audit-restart.sh [sizes="1000 1000000"] [fill=fast|writer] [dir=/tmp/edge-audit-restart]
# fill=fast: records straight into SQLite by one INSERT ... SELECT (small leaves, random leaf hashes, no tiles): a store
#   as a writer from before tiles left it, at 10M in minutes. fill=writer: 'edge-load audit-fill' through the writer's
#   own append path (real v2 records of about 600 bytes), then the tile tables are dropped, so the first start times the
#   migration of a realistic store.
# WRITER_DLL=path restarts another build of the writer on the filled stores (e.g. the one before tiles, which rebuilds
#   its in-memory tree from every leaf hash), for a before/after pair in one run.
# REBUILD=1 on a store filled before: drops its tile tables, so the first start builds them again (times the migration
#   without filling again).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SIZES=${1:-1000 1000000}
FILL=${2:-fast}
DIR=${3:-/tmp/edge-audit-restart}
PORT=${PORT:-9932}
mkdir -p "$DIR"

dotnet build src/Edge.AuditWriter -c Release -v q -nologo >/dev/null
if [ "$FILL" = writer ]; then dotnet build load/Edge.Load -c Release -v q -nologo >/dev/null; fi

# Prints "<ms to the first checkpoint over all records> <VmRSS kB> <ms the store took to open (event 1)>" and stops the writer.
start_writer() {
  local store=$1 records=$2 started pid rss opened
  local lines; lines=$(cat "$store.log" 2>/dev/null | wc -l)
  started=$(date +%s%N)
  dotnet "${WRITER_DLL:-src/Edge.AuditWriter/bin/Release/net10.0/Edge.AuditWriter.dll}" --urls "http://127.0.0.1:$PORT" \
    --Writer:StorePath="$store" --Writer:KeyPath="$DIR/writer.key" --Writer:SubjectKeyPath="$DIR/audit-subject.key" \
    --Writer:Origin=bench/audit --Serilog:MinimumLevel:Default=Warning \
    --Serilog:MinimumLevel:Override:Edge.AuditWriter.Log.AuditLog=Information >>"$store.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 12000); do
    if [ "$(curl -fs "http://127.0.0.1:$PORT/audit/checkpoint" 2>/dev/null | sed -n 2p)" = "$records" ]; then break; fi
    sleep 0.05
  done
  local elapsed=$(( ($(date +%s%N) - started) / 1000000 ))
  curl -fs "http://127.0.0.1:$PORT/audit/checkpoint" | sed -n 2p | grep -qx "$records" || { echo "no checkpoint over $records records" >&2; kill "$pid"; exit 3; }
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # Only this start's lines: an older build logs no OpenMs.
  opened=$(tail -n +"$((lines + 1))" "$store.log" | grep -o '"OpenMs":[0-9]*' | tail -1 | cut -d: -f2 || true)
  echo "$elapsed $rss ${opened:--}"
}

echo "| records | fill | first start (ms) | of which tile build (ms) | RSS (MB) | restart (ms) | of which store open (ms) | RSS (MB) | load average |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---|"
for records in $SIZES; do
  store="$DIR/audit-$records-$FILL.db"
  if [ ! -f "$store.filled" ]; then
    rm -f "$store" "$store-wal" "$store-shm" "$store.log"
    if [ "$FILL" = writer ]; then
      dotnet load/Edge.Load/bin/Release/net10.0/edge-load.dll audit-fill --store "$store" --records "$records" \
        --key "$DIR/writer.key" --subject-key "$DIR/audit-subject.key" --origin bench/audit >/dev/null
      sqlite3 "$store" "DROP TABLE tiles; DROP TABLE partial_tiles;"
    else
      # The writer creates the schema (and checkpoint 0); then the records go in behind its back.
      start_writer "$store" 0 >/dev/null
      sqlite3 "$store" "DELETE FROM partial_tiles; WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $records)
        INSERT INTO records (idx, record_id, time_ms, leaf, leaf_hash) SELECT i, 'r' || i, i, X'7B7D', randomblob(32) FROM n;"
    fi
    touch "$store.filled"
    read -r first first_rss _ < <(start_writer "$store" "$records")
  elif [ "${REBUILD:-0}" = 1 ]; then
    sqlite3 "$store" "DROP TABLE tiles; DROP TABLE partial_tiles;"
    read -r first first_rss _ < <(start_writer "$store" "$records")
  else
    first="-"; first_rss=0
  fi
  read -r again again_rss again_open < <(start_writer "$store" "$records")
  # Event 2135 (AuditLog.TilesBuilt) carries the build time; none when the tiles were already there.
  built=$(grep -o '"ElapsedMs":[0-9]*' "$store.log" | tail -1 | cut -d: -f2 || true)
  [ "$first" = "-" ] && built="-"
  echo "| $records | $FILL | $first | ${built:--} | $((first_rss / 1024)) | $again | $again_open | $((again_rss / 1024)) | $(cut -d' ' -f1-3 /proc/loadavg) |"
done
