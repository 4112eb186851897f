#!/usr/bin/env bash
# Starts the demo: a small echo backend, then the edge in front of it with embedded defaults (no Redis).
# Ctrl+C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# Secrets referenced by proxy.json (env:NAME). config/.env is yours and git-ignored; the example holds public demo values.
env_file=config/.env
[ -f "$env_file" ] || env_file=config/.env.example
set -a; . "$env_file"; set +a
# A port already taken would make one process fail to bind, and a stale edge still answering on 9901 would even make
# the readiness check below pass for a demo that is not running: say which port is busy before starting anything.
check_ports() {
  for port in 5100 9902 8080 9901; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "port $port on 127.0.0.1 is already in use (an earlier ./run.sh still running? see: ss -ltnp 'sport = :$port'); stop it and retry" >&2
      exit 1
    fi
  done
}
check_ports

# dotnet build answers Ctrl+C with exit code 1, as a failed build: say it was stopped instead of "build failed".
trap 'echo "stopped during the build; nothing was started" >&2; exit 130' INT TERM
for project in src/Edge.DemoBackend src/Edge.AuditWriter src/Edge.Proxy; do
  echo "building ${project#src/} (Release; the first build takes a minute) …" >&2
  dotnet build "$project" -c Release -v q -nologo >/dev/null || { echo "build of $project failed; run: dotnet build $project" >&2; exit 1; }
done

# Again after the builds: a second ./run.sh started during this one's build found the ports free above.
check_ports

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

dotnet src/Edge.DemoBackend/bin/Release/net10.0/Edge.DemoBackend.dll --urls http://127.0.0.1:5100 &
pids+=($!)

# The audit writer is its own process: SQLite store and signing key under data/audit (key generated on first start).
dotnet src/Edge.AuditWriter/bin/Release/net10.0/Edge.AuditWriter.dll --urls http://127.0.0.1:9902 \
  --Writer:StorePath=data/audit/audit.db --Writer:KeyPath=data/audit/writer.key --Writer:SubjectKeyPath=data/audit/subject.key --Writer:Origin=edge-demo/audit \
  --Writer:ProxyConfigPath=proxy.json --Writer:Authentication="${EDGE_AUDIT_AUTHENTICATION:-demo-keys}" \
  ${EDGE_AUDIT_INGEST_TOKEN:+--Writer:IngestToken=env:EDGE_AUDIT_INGEST_TOKEN} &
pids+=($!)

dotnet src/Edge.Proxy/bin/Release/net10.0/Edge.Proxy.dll --urls http://127.0.0.1:8080 \
  --Edge:ManagementUrls=http://127.0.0.1:9901 --Edge:ProxyConfigPath=proxy.json \
  --Edge:Audit:WriterUrl=http://127.0.0.1:9902 --Edge:Audit:SpoolPath=data/audit-spool \
  ${EDGE_AUDIT_INGEST_TOKEN:+--Edge:Audit:IngestToken=env:EDGE_AUDIT_INGEST_TOKEN} "$@" &
pids+=($!)

all_running() {
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "a process exited during start-up; its log is above" >&2; return 1; }
  done
}

# Ready means the edge says so on /readyz (config loaded); until then the URLs would only refuse connections.
echo "starting: demo backend, audit writer, edge …" >&2
ready=
for _ in $(seq 1 300); do
  if curl -fsS -o /dev/null --max-time 1 http://127.0.0.1:9901/readyz 2>/dev/null; then ready=1; break; fi
  all_running || exit 1
  sleep 0.2
done
if [ -z "$ready" ]; then echo "the edge did not answer http://127.0.0.1:9901/readyz within 60 s; its log is above" >&2; exit 1; fi
# The answer could still be another demo's that took a port in the instant between the check above and the start: a
# process of ours that could not bind exits within a second, so look once more before saying ready.
sleep 1
all_running || exit 1

echo "ready: edge http://127.0.0.1:8080  management http://127.0.0.1:9901  audit writer http://127.0.0.1:9902  demo backend http://127.0.0.1:5100 (Ctrl+C stops all)" >&2
wait -n "${pids[@]}"
