#!/usr/bin/env bash
# portcullis next to tinyproxy, squid, microsocks, dante and the direct path, on loopback.
#
#   bench/run.sh [--quick|--full|--smoke] [--only tinyproxy,squid] [--scale] [--no-pin] [--json F]
#
#   --quick  (default) one pass, 2 s per timed run, ~3 min with every peer
#   --full   three interleaved passes (medians), 5 s runs, c = 1/16/64/256
#   --smoke  CI: portcullis and direct only, every scenario very briefly, a small scale table;
#            exits 1 when a scenario does not complete or a denied request gets through
#   --only   the peers to run (portcullis and direct always run)
#   --scale  also 1,000 and 10,000 keep-alive connections and 10,000 idle tunnels
#
# As root it installs what is missing (apt-get), builds portcullis (make release), then runs
# bench/harness.py inside a private network and mount namespace: only `lo`, DNS pointed at
# 127.0.0.1 (nothing answers), and the denied name blocked.example.com mapped to 127.0.0.2,
# where the origin also listens, so a request a proxy wrongly lets through gets a 200 and is
# counted as a leak. See bench/README.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
top="$(cd "$here/.." && pwd)"

smoke=0 pin=1 only=""
args=("$@")
while (($#)); do
	case "$1" in
	--smoke) smoke=1 ;;
	--quick | --full | --scale) ;;
	--no-pin) pin=0 ;;
	--only | --json)
		[[ $# -ge 2 ]] || { echo "bench/run.sh: $1 needs a value" >&2; exit 2; }
		[[ "$1" == --only ]] && only="$2"
		shift ;;
	-h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
# --no-pin is ours, not the harness's: pass the rest through
set -- "${args[@]}"
harness_args=()
for a in "$@"; do [[ "$a" == --no-pin ]] || harness_args+=("$a"); done
((pin)) || BENCH_PIN=0
export BENCH_PIN="${BENCH_PIN:-1}"

if [[ "${BENCH_IN_NS:-}" != 1 ]]; then
	# Installing packages, the private namespace and the sysctls in it need root.
	if [[ $(id -u) -ne 0 ]]; then
		if command -v sudo >/dev/null 2>&1; then
			exec sudo --preserve-env=BENCH_PIN,BENCH_CLIENT_CPU,BENCH_PROXY_CPU,BENCH_NO_NETNS,BENCH_BUILD \
				bash "$0" "${args[@]}"
		fi
		echo "bench/run.sh: needs root (apt-get, unshare)" >&2
		exit 1
	fi
	# ------------------------------------------------------------------ install
	# command:package; the peers only when they run
	want="nginx:nginx-light wrk:wrk curl:curl python3:python3 openssl:openssl ip:iproute2
		taskset:util-linux unshare:util-linux"
	if ((!smoke)); then
		for p in tinyproxy:tinyproxy squid:squid microsocks:microsocks danted:dante-server; do
			[[ -z "$only" || ",$only," == *",${p%%:*},"* || ( "${p%%:*}" == danted &&
				",$only," == *",dante,"* ) ]] && want="$want $p"
		done
	fi
	missing=()
	for p in $want; do
		command -v "${p%%:*}" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v \
			"${p%%:*}" >/dev/null 2>&1 || missing+=("${p#*:}")
	done
	if ((${#missing[@]})); then
		echo "bench/run.sh: installing ${missing[*]}" >&2
		# The packages' own services are not used; keep their install scripts from starting
		# them (nginx's would fail on a machine where port 80 is taken).
		blocker=""
		if [[ ! -e /usr/sbin/policy-rc.d ]]; then
			blocker=/usr/sbin/policy-rc.d
			printf '#!/bin/sh\nexit 101\n' >"$blocker"
			chmod 755 "$blocker"
			trap 'rm -f "$blocker"' EXIT
		fi
		apt-get update -q >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			"${missing[@]}" >&2
		[[ -n "$blocker" ]] && rm -f "$blocker"
		trap - EXIT
	fi
	export PATH="$PATH:/usr/sbin:/sbin"

	# -------------------------------------------------------------------- build
	make -C "$top" release >&2

	# Room for 10,000 tunnels: each is a client socket, a proxy socket pair and an origin one.
	ulimit -Hn 1048576 2>/dev/null || true
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true

	# ----------------------------------------------------- private namespace
	if [[ "${BENCH_NO_NETNS:-}" != 1 ]]; then
		if unshare --net --mount true 2>/dev/null; then
			exec unshare --net --mount env BENCH_IN_NS=1 bash "$0" "${harness_args[@]}"
		fi
	fi
	echo "bench/run.sh: WARNING: no private network namespace; the denied destination is the" \
		"literal 127.0.0.2 and the host's sysctls are left alone" >&2
	export BENCH_DENY_HOST="${BENCH_DENY_HOST:-127.0.0.2}"
else
	# -------------------------------------------- inside the private namespace
	ip link set lo up
	# Bind mounts are private to this mount namespace; the files can go once mounted.
	tmp="$(mktemp -d /tmp/portcullis-bench-ns.XXXXXX)"
	echo "nameserver 127.0.0.1" >"$tmp/resolv.conf"
	{
		echo "127.0.0.1 localhost"
		echo "::1 localhost ip6-localhost ip6-loopback"
		echo "127.0.0.2 blocked.example.com"
	} >"$tmp/hosts"
	chmod 644 "$tmp/resolv.conf" "$tmp/hosts"
	chmod 755 "$tmp"
	mount --bind "$tmp/resolv.conf" /etc/resolv.conf
	mount --bind "$tmp/hosts" /etc/hosts
	rm -rf "$tmp"
	# Per network namespace, so only this one changes: ports for ~100k connections a run,
	# reuse of TIME_WAIT ports, and deep accept queues for 10,000 connections.
	for kv in net/ipv4/ip_local_port_range="1024 65535" net/ipv4/tcp_tw_reuse=1 \
		net/core/somaxconn=65535 net/ipv4/tcp_max_syn_backlog=65535; do
		echo "${kv#*=}" >"/proc/sys/${kv%%=*}" 2>/dev/null ||
			echo "bench/run.sh: could not set ${kv%%=*}" >&2
	done
fi

# Clients and the origin on one CPU, the proxy on the other (harness.py pins the proxy).
pin_cmd=()
if [[ "$BENCH_PIN" == 1 && $(nproc) -ge 2 ]]; then
	pin_cmd=(taskset -c "${BENCH_CLIENT_CPU:-0}")
fi
exec "${pin_cmd[@]}" python3 "$here/harness.py" "${harness_args[@]}"
