# Sourced by the audit benchmarks: a throwaway PostgreSQL in a directory, on 127.0.0.1 only, trust authentication,
# default durability (fsync, synchronous_commit and full_page_writes on). PostgreSQL refuses to run as root, so as
# root it runs as the postgres user with the directory handed to it. Needs Debian's postgresql package.
pg_bin() {
  local initdb
  initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)
  [ -n "$initdb" ] || { echo "postgresql is not installed: apt-get install -y postgresql" >&2; return 1; }
  dirname "$initdb"
}

pg_as() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_start DIR PORT
pg_start() {
  local dir=$1 port=$2 bin
  bin=$(pg_bin)
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then chmod 755 "$(dirname "$dir")"; chown -R postgres:postgres "$dir"; fi
  pg_as "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --no-instructions >/dev/null
  pg_as "$bin/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/postgres.log" \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c max_connections=100" >/dev/null
}

# pg_stop DIR
pg_stop() {
  local bin
  bin=$(pg_bin)
  pg_as "$bin/pg_ctl" stop -m fast -w -D "$1/data" >/dev/null 2>&1 || true
}
