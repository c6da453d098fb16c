#!/usr/bin/env bash
# Optional: portcullis through the workplace's shared proxy harness (../shared/bench, which a
# clean clone does not have) instead of the project's own bench/run.sh. It adds privoxy and srt
# to the peers; the figures are comparable with the shared harness's RESULTS.md.
#
#   bench/shared.sh [--quick] [--only squid,tinyproxy]     (arguments go to that harness)
#
# PB_HARNESS names the harness directory (default ../shared/bench next to this checkout).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
top="$(cd "$here/.." && pwd)"
harness="${PB_HARNESS:-$top/../shared/bench}"
if [[ ! -x "$harness/run.sh" ]]; then
	echo "bench/run.sh: no benchmark harness at $harness (set PB_HARNESS)" >&2
	exit 1
fi
make -C "$top" release >&2
conf="$(mktemp -d /tmp/portcullis-bench.XXXXXX)"
trap 'rm -rf "$conf"' EXIT
# The harness asks every proxy for localhost and 127.0.0.1 and for one denied name.
cat >"$conf/portcullis.toml" <<TOML
[network]
allowed_domains = ["localhost", "127.0.0.1"]
audit_log = "off"
max_connections = 100000
TOML
export OURS_CMD="exec $top/build/release/portcullis serve --config $conf/portcullis.toml \
--http 127.0.0.1:\$OURS_HTTP_PORT --socks 127.0.0.1:\$OURS_SOCKS_PORT"
export OURS_HTTP_PORT="${OURS_HTTP_PORT:-14128}" OURS_SOCKS_PORT="${OURS_SOCKS_PORT:-14080}"
cd "$harness/.."
exec "$harness/run.sh" "$@"
