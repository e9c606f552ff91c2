#!/usr/bin/env bash
# The outbox during a four-tier load test with status webhooks (tuning/RESULTS.md,
# "Subscriber delivery"): `sluice loadtest --webhooks --inbound 10` runs as usual, and a
# subscriber to every status and incoming message (nginx on 127.0.0.1, keep-alive,
# answering 204) is added to the `serve` it started, as soon as it listens. Every second:
# the events waiting (`sluice_outbox_pending`) and the events delivered so far.
#
#   tuning/subscriber-loadtest.sh                          # 20,80,250,1000 for 20 s
#   TIERS=20,80 SECONDS_=10 tuning/subscriber-loadtest.sh
#   BATCH=50 tuning/subscriber-loadtest.sh                 # 50 events per POST
#
# Needs a release build (swift build -c release --product sluice) and nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
. tuning/nginx-receiver.sh
bin=${SLUICE:-.build/release/sluice}
tiers=${TIERS:-20,80,250,1000}
seconds=${SECONDS_:-20}
batch=${BATCH:-1}
work=$(mktemp -d /tmp/sluice-subscriber-loadtest.XXXXXX)
pids=()
trap 'exit 1' INT TERM
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in $(pgrep -f "$work/lt/" || true); do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT
hook=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nginx_receiver "$work/nginx" "$hook"
pids+=($!)

"$bin" loadtest --tiers "$tiers" --seconds "$seconds" --webhooks --inbound 10 --work-dir "$work/lt" --keep \
  --report-dir "$work/report" > "$work/loadtest.txt" 2>&1 &
loadtest=$!
pids+=("$loadtest")
url=""
for _ in $(seq 300); do
  url=$(grep -ho 'listening on 127.0.0.1:[0-9]*' "$work/lt/serve.log" 2>/dev/null | head -1 | sed 's|listening on |http://|') || true
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "serve did not start"; cat "$work/loadtest.txt"; exit 2; }
serve=$(pgrep -f "serve --data-dir $work/lt/data" | head -1)
# The admin key the harness gave its own serve.
key=$(tr '\0' '\n' < "/proc/$serve/environ" | sed -n 's/^SLUICE_ADMIN_KEY=//p')
curl -sf -X POST "$url/v1/subscriptions" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d "{\"url\":\"http://127.0.0.1:$hook/events\",\"secret\":\"subscriber-loadtest-secret\",\"events\":[\"status\",\"message\"],\"batch\":$batch}" > "$work/sub.json"
sub=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$work/sub.json")
start=$(date +%s.%N)
echo "t_s outbox_pending delivered_to_$sub"
while kill -0 "$loadtest" 2>/dev/null; do
  pending=$(curl -sf "$url/metrics" -H "Authorization: Bearer $key" | awk '/^sluice_outbox_pending /{print $2}') || break
  delivered=$(curl -sf "$url/v1/subscriptions/$sub" -H "Authorization: Bearer $key" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["deliveries"]["delivered"])') || break
  printf '%.0f %s %s\n' "$(echo "$(date +%s.%N) - $start" | bc)" "$pending" "$delivered"
  sleep 1
done
wait "$loadtest" || true
sed -n "/^Sluice load test\|^ *[0-9]* s of/!p" "$work/loadtest.txt" | tail -40
