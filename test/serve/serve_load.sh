#!/usr/bin/env bash
# A bounded load test of `birkhoff serve` on loopback: 2,000 streamed requests, 64 at once
# (tools/loadtest.py), on the synth tiny model cut to two layers (window and CSA, so that state
# pages come and go). Passes when no request failed, the server's resident memory after the
# last thousand requests is within 5 % of that after the first thousand, and every sequence,
# page and queue place is back at the end. Prints the report (docs/serve.md quotes one).
# Given an artifact (and serve options), loads that instead: scripts/gpu-serve-load.sh runs the
# same load on the GPU with the 4-layer V4-Flash model.
#   serve_load.sh <birkhoff> <repo root> <work dir> [requests] [concurrency]
#                 [artifact [serve options...]]
set -euo pipefail
birkhoff=$1 root=$2 work=$3 requests=${4:-2000} concurrency=${5:-64}
mkdir -p "$work"
if [ $# -ge 6 ]; then
  art=$6
  shift 6
  options=("$@")
else
  art="$work/tiny2.bkart"
  "$birkhoff" compile --synth-preset tiny --layers 2 -o "$art" > /dev/null
  options=(--max-context 512)
fi
source "$(dirname "$0")/server.sh"
start_server "$birkhoff" "$work/server.log" "$art" --max-sequences "$concurrency" "${options[@]}" ||
  exit 1
trap 'kill -9 $pid 2> /dev/null; true' EXIT
status=0
python3 "$root/tools/loadtest.py" --url "$url" --requests "$requests" \
  --concurrency "$concurrency" --server-pid "$pid" --json "$work/report.json" \
  --progress "${SERVE_LOAD_PROGRESS:-0}" || status=1
python3 - "$work/report.json" <<'PY' || status=1
import json, sys
r = json.load(open(sys.argv[1]))
rss = [v for _, v in sorted(r["rss_kib_after"].items(), key=lambda kv: int(kv[0]))]
if r["failed"]:
    sys.exit("%d requests failed" % r["failed"])
if len(rss) >= 2 and abs(rss[-1] - rss[0]) > 0.05 * rss[0]:
    sys.exit("server RSS went from %d to %d KiB" % (rss[0], rss[-1]))
PY
# The gauges are published after each scheduler iteration, which may end just after the last
# response reached its client: poll for a few seconds before calling a gauge stuck.
gauges="birkhoff_running_sequences birkhoff_queue_length birkhoff_state_pages_in_use"
for _ in $(seq 1 50); do
  metrics=$(curl -s "$url/metrics")
  settled=1
  for gauge in $gauges; do
    echo "$metrics" | grep -q "^$gauge 0$" || settled=0
  done
  [ $settled = 1 ] && break
  sleep 0.1
done
for gauge in $gauges; do
  echo "$metrics" | grep -q "^$gauge 0$" ||
    { echo "after the load: $(echo "$metrics" | grep "^$gauge ")"; status=1; }
done
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 0 ] || { echo "the server exited with $rc"; status=1; }
trap - EXIT
[ "$status" = 0 ] && echo "serve load: PASS"
exit "$status"
