#!/bin/sh
# A local S3 server for tests: OpenStack Swift with its s3api middleware,
# run as plain processes on 127.0.0.1 (no systemd, no root-owned paths).
#
#   s3-server.sh start DIR   write configs and rings into DIR, start
#                            memcached, account, container, object and
#                            proxy servers, wait until ready, record PIDs
#   s3-server.sh stop DIR    stop exactly the processes recorded in DIR/pids
#   s3-server.sh env DIR     print SLUICE_TEST_S3_* variables for DIR's server
#
# Ready means every port accepts and GET /healthcheck on the proxy is 200
# (the proxy reports healthy before the backends listen).  Credentials:
# tempauth user test:tester / testing, region us-east-1.  Each server runs
# with -v so its log lands in DIR/log/<name>.log.  Needs the Debian packages
# listed as S3_PKGS in scripts/deps.sh.
set -eu

PY=/usr/bin/python3
cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
	echo "usage: $0 start|stop|env DIR" >&2
	exit 2
fi

die() {
	echo "s3-server: $*" >&2
	exit 1
}

free_ports() { # print $1 free TCP ports on 127.0.0.1
	$PY - "$1" <<'PYEOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PYEOF
}

write_rings() { # $1 account port, $2 container port, $3 object port
	$PY - "$dir" "$1" "$2" "$3" <<'PYEOF'
import sys
from swift.common.ring import RingBuilder
d = sys.argv[1]
for name, port in zip(("account", "container", "object"), sys.argv[2:]):
    b = RingBuilder(6, 1, 1)
    b.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1",
               "port": int(port), "device": "d1", "weight": 100.0})
    b.rebalance()
    b.get_ring().save("%s/%s.ring.gz" % (d, name))
PYEOF
}

write_backend_conf() { # $1 kind, $2 port
	cat >"$dir/$1-server.conf" <<CONF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $2
workers = 0
swift_dir = $dir
devices = $dir/srv
mount_check = false
log_level = INFO

[pipeline:main]
pipeline = $1-server

[app:$1-server]
use = egg:swift#$1
CONF
}

write_proxy_conf() { # $1 proxy port, $2 memcached port
	cat >"$dir/proxy-server.conf" <<CONF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $1
workers = 0
swift_dir = $dir
log_level = INFO

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:s3api]
use = egg:swift#s3api
location = us-east-1
storage_domain = localhost

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$2

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
CONF
}

port_open() {
	$PY -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close()' "$1" 2>/dev/null
}

healthy() {
	$PY -c 'import urllib.request,sys; sys.exit(0 if urllib.request.urlopen("http://127.0.0.1:%s/healthcheck" % sys.argv[1], timeout=1).status == 200 else 1)' "$1" 2>/dev/null
}

spawn() { # $1 name, rest: command; records the PID
	name=$1
	shift
	"$@" >"$dir/log/$name.log" 2>&1 &
	echo "$! $name" >>"$dir/pids"
}

start() {
	command -v swift-proxy-server >/dev/null 2>&1 ||
		die "OpenStack Swift is not installed (see S3_PKGS in scripts/deps.sh)"
	[ -f "$dir/pids" ] && die "$dir/pids exists: already started? run stop first"
	mkdir -p "$dir/srv/d1" "$dir/log"
	dir=$(cd "$dir" && pwd)
	# shellcheck disable=SC2046 # five numbers, split on purpose
	set -- $(free_ports 5)
	pa=$1 pc=$2 po=$3 pp=$4 pm=$5
	write_rings "$pa" "$pc" "$po"
	write_backend_conf account "$pa"
	write_backend_conf container "$pc"
	write_backend_conf object "$po"
	write_proxy_conf "$pp" "$pm"
	: >"$dir/pids"
	mu=""
	[ "$(id -u)" -eq 0 ] && mu="-u root"
	# shellcheck disable=SC2086
	spawn memcached memcached -l 127.0.0.1 -p "$pm" -U 0 $mu
	spawn account swift-account-server "$dir/account-server.conf" -v
	spawn container swift-container-server "$dir/container-server.conf" -v
	spawn object swift-object-server "$dir/object-server.conf" -v
	spawn proxy swift-proxy-server "$dir/proxy-server.conf" -v
	cat >"$dir/env" <<ENV
SLUICE_TEST_S3_ENDPOINT=http://127.0.0.1:$pp
SLUICE_TEST_S3_ACCESS_KEY=test:tester
SLUICE_TEST_S3_SECRET_KEY=testing
SLUICE_TEST_S3_REGION=us-east-1
ENV
	i=0
	while :; do
		ok=1
		for p in "$pa" "$pc" "$po" "$pm" "$pp"; do
			port_open "$p" || { ok=0; break; }
		done
		[ $ok = 1 ] && healthy "$pp" && break
		i=$((i + 1))
		if [ $i -ge 150 ]; then
			stop
			die "not ready after 30 s; logs in $dir/log"
		fi
		while read -r pid name; do
			kill -0 "$pid" 2>/dev/null || {
				tail -5 "$dir/log/$name.log" >&2
				stop
				die "$name server exited; log $dir/log/$name.log"
			}
		done <"$dir/pids"
		sleep 0.2
	done
	echo "s3-server: ready at http://127.0.0.1:$pp (dir $dir)"
}

stop() {
	[ -f "$dir/pids" ] || return 0
	while read -r pid name; do
		kill "$pid" 2>/dev/null || true
	done <"$dir/pids"
	i=0
	while read -r pid name; do
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -9 "$pid" 2>/dev/null || true
		fi
	done <"$dir/pids"
	rm -f "$dir/pids"
}

case "$cmd" in
start) start ;;
stop) stop ;;
env)
	[ -f "$dir/env" ] || die "no server environment in $dir"
	cat "$dir/env"
	;;
*) die "unknown command '$cmd' (start|stop|env)" ;;
esac
