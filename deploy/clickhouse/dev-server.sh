#!/bin/sh
# Starts a private ClickHouse server for development from a copy of the
# packaged configuration, with its data, logs and ports of your choosing.
#
#   deploy/clickhouse/dev-server.sh DIR HTTP_PORT TCP_PORT INTERSERVER_PORT
#
# Prints the server's PID; stop it with `kill PID`. Data stays in DIR.
set -eu
dir=${1:?usage: dev-server.sh DIR HTTP_PORT TCP_PORT INTERSERVER_PORT}
http=${2:-18123}
tcp=${3:-19000}
inter=${4:-19009}
src=${CLICKHOUSE_CONFIG_DIR:-/etc/clickhouse-server}
mkdir -p "$dir/data" "$dir/log"
dir=$(cd "$dir" && pwd)
sed -e "s#/var/lib/clickhouse/#$dir/data/#g" \
    -e "s#/var/log/clickhouse-server/#$dir/log/#g" \
    -e "s#<http_port>8123</http_port>#<http_port>$http</http_port>#" \
    -e "s#<tcp_port>9000</tcp_port>#<tcp_port>$tcp</tcp_port>#" \
    -e "s#<interserver_http_port>9009</interserver_http_port>#<interserver_http_port>$inter</interserver_http_port>#" \
    "$src/config.xml" >"$dir/config.xml"
cp "$src/users.xml" "$dir/users.xml"
cd "$dir"
nohup clickhouse-server --config-file="$dir/config.xml" >"$dir/log/stdout.log" 2>&1 &
pid=$!
i=0
until curl -fsS "http://127.0.0.1:$http/?query=SELECT%201" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 60 ]; then echo "ClickHouse did not answer on port $http; see $dir/log" >&2; exit 1; fi
    sleep 0.5
done
echo "$pid"
