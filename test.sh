#!/usr/bin/env bash
# The test command: checks (and, as root on Debian, installs) what the tests need, runs every test project,
# and ends with one line: "tests: N passed, N failed, N skipped". Skipped tests fail the run.
# Needs the .NET 10 SDK; installs the Debian packages redis-server, chromium, nginx, prometheus and postgresql when missing.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v dotnet >/dev/null 2>&1; then
  echo "test.sh: the .NET 10 SDK is required (dotnet is not on PATH): https://dotnet.microsoft.com/download/dotnet/10.0" >&2
  exit 1
fi

# redis-server: the rate-limit and functional tests start real servers; chromium (at /usr/bin/chromium): the browser
# tests of the HTML reports; nginx: load/bench.sh's comparison target; prometheus: promtool checks config/'s alert rules;
# postgresql: the audit writer's PostgreSQL store tests run initdb + pg_ctl (from /usr/lib/postgresql/*/bin) in a temp dir.
has() { PATH="$PATH:/usr/sbin:/sbin" command -v "$1" >/dev/null 2>&1; }
missing=()
has redis-server || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
has nginx || missing+=(nginx)
[ -x /usr/bin/promtool ] || missing+=(prometheus)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: missing: ${missing[*]}. Install them, then run ./test.sh again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "test.sh: installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
dotnet test Edge.sln "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One closing line over every test assembly (dotnet test prints one summary per assembly).
sum() { grep -oE "$1: +[0-9]+" "$log" | awk '{ total += $NF } END { print total + 0 }'; }
passed=$(sum Passed); failed=$(sum Failed); skipped=$(sum Skipped)
echo "tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
if [ "$status" -ne 0 ]; then exit "$status"; fi
if [ "$skipped" -ne 0 ]; then echo "test.sh: skipped tests are not allowed" >&2; exit 1; fi
if [ "$passed" -eq 0 ]; then echo "test.sh: no test ran" >&2; exit 1; fi
