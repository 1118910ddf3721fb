#!/usr/bin/env bash
# A throwaway PostgreSQL server for rein's tests and benchmarks, from Debian's `postgresql`
# package (tools/dev.sh installs it).
#
#   postgres_server.sh start DIR [--fast]   initdb into DIR and start the server, listening only
#                                           on a unix socket in DIR; prints its conninfo
#   postgres_server.sh stop DIR             stop it and remove DIR
#
# The server runs as a non-root user: the caller, or `postgres` when the caller is root
# (PostgreSQL refuses to run as root). --fast turns off fsync and synchronous commit: for
# tests, whose servers never outlive a power cut; benchmarks run without it.
set -euo pipefail
command=${1:?usage: postgres_server.sh start|stop DIR [--fast]}
dir=${2:?usage: postgres_server.sh start|stop DIR [--fast]}
fast=${3:-}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/pg_ctl" ] || { echo "postgres_server.sh: PostgreSQL is not installed (Debian package postgresql)" >&2; exit 1; }
as_owner=()
[ "$(id -u)" = 0 ] && as_owner=(runuser -u postgres --)

stop() {
  if [ -f "$dir/data/postmaster.pid" ]; then
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "$command" in
  start)
    stop
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    "${as_owner[@]}" "$bin/initdb" -D "$dir/data" -A trust -U rein -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    settings="-k $dir -c listen_addresses= -p 5432 -c max_connections=300 -c shared_buffers=64MB"
    [ "$fast" = --fast ] && settings+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "$settings" -w -t 60 start >/dev/null ||
      { cat "$dir/server.log" >&2; exit 1; }
    echo "host=$dir port=5432 user=rein dbname=postgres"
    ;;
  stop) stop ;;
  *) echo "postgres_server.sh: unknown command '$command'" >&2; exit 2 ;;
esac
