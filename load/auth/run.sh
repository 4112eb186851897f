#!/usr/bin/env bash
# Auth benchmark: throughput of JWT + EdgeRequire routes vs the same route without steps, in one run, same processes.
# Starts the demo backend, a JWKS file server (python3 http.server) and the edge (Release), then runs AuthBench.cs.
# Usage: load/auth/run.sh [duration-seconds=10] [concurrency=32] [rounds=3]
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10}; concurrency=${2:-32}; rounds=${3:-3}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

for project in src/Edge.DemoBackend src/Edge.Proxy; do
  dotnet build "$project" -c Release -v q -nologo >/dev/null
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
backend_port=$(free_port); jwks_port=$(free_port); proxy_port=$(free_port); management_port=$(free_port)
work=$(mktemp -d)
export BENCH_HS256_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')

cat > "$work/proxy.json" <<JSON
{
  "ReverseProxy": {
    "Routes": {
      "plain": { "ClusterId": "demo", "Match": { "Path": "/bench/plain" }, "Transforms": [ { "PathSet": "/fast" } ] },
      "hs": { "ClusterId": "demo", "Match": { "Path": "/bench/hs" },
        "Transforms": [ { "EdgeAuthenticate": "bench-hs" }, { "EdgeRequire": "orders.read" }, { "PathSet": "/fast" } ] },
      "jwks": { "ClusterId": "demo", "Match": { "Path": "/bench/jwks" },
        "Transforms": [ { "EdgeAuthenticate": "bench-jwks" }, { "EdgeRequire": "orders.read" }, { "PathSet": "/fast" } ] }
    },
    "Clusters": { "demo": { "Destinations": { "d1": { "Address": "http://127.0.0.1:$backend_port/" } } } }
  },
  "Edge": {
    "Authentication": {
      "bench-hs": { "Type": "Jwt", "Issuer": "https://id.bench", "Audience": "edge-bench", "SigningKey": "env:BENCH_HS256_KEY" },
      "bench-jwks": { "Type": "Jwt", "Issuer": "https://id.bench", "Audience": "edge-bench",
        "JwksUrl": "http://127.0.0.1:$jwks_port/jwks.json", "RequireHttpsMetadata": false }
    },
    "Roles": { "Agent": [ "orders.read", "orders.write" ] }
  }
}
JSON

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM

dotnet src/Edge.DemoBackend/bin/Release/net10.0/Edge.DemoBackend.dll --urls "http://127.0.0.1:$backend_port" >/dev/null 2>&1 & pids+=($!)
(cd "$work" && exec python3 -m http.server "$jwks_port" --bind 127.0.0.1 >/dev/null 2>&1) & pids+=($!)
# Per-request decision logs are off for both routes alike (the audit capability measures its own cost).
dotnet src/Edge.Proxy/bin/Release/net10.0/Edge.Proxy.dll --urls "http://127.0.0.1:$proxy_port" \
  --Edge:ManagementUrls="http://127.0.0.1:$management_port" --Edge:ProxyConfigPath="$work/proxy.json" \
  --Serilog:MinimumLevel:Default=Warning >"$work/edge.log" 2>&1 & pids+=($!)

for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$management_port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done

dotnet run load/auth/AuthBench.cs -c Release -- "http://127.0.0.1:$proxy_port" "$work/jwks.json" "$duration" "$concurrency" "$rounds"
