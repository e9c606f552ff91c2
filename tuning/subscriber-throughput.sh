#!/usr/bin/env bash
# Subscriber delivery throughput (tuning/RESULTS.md, "Subscriber delivery"): a paused
# sender's campaign of N messages is cancelled, which journals N `cancelled` events at
# once; `serve`'s delivery worker then POSTs them to one subscriber. The figure is events
# delivered per second while the backlog lasts (GET /v1/subscriptions/sub_1, sampled
# every second), and serve's CPU per event.
#
#   tuning/subscriber-throughput.sh                       # 50 000 events, nginx keep-alive receiver
#   RECEIVER=close tuning/subscriber-throughput.sh        # python3 http.server, HTTP/1.0: a connection per event
#   N=200000 FLOOD2=1 tuning/subscriber-throughput.sh     # and a second campaign's statuses during the flood
#   BATCH=50 tuning/subscriber-throughput.sh              # 50 events per POST (the subscription's "batch")
#
# Needs a release build (swift build -c release --product sluice) and nginx (keep-alive).
set -euo pipefail
cd "$(dirname "$0")/.."
. tuning/nginx-receiver.sh
bin=${SLUICE:-.build/release/sluice}
n=${N:-50000}
receiver=${RECEIVER:-keepalive}
batch=${BATCH:-1}
work=$(mktemp -d /tmp/sluice-subscriber-throughput.XXXXXX)
pids=()
trap 'exit 1' INT TERM
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT
key=subscriber-throughput-admin-key-0123456789
phone=1065000800
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(freeport)
hook=$(freeport)

if [ "$receiver" = keepalive ]; then
  nginx_receiver "$work/nginx" "$hook"
  pids+=($!)
else
  cat > "$work/receiver.py" <<'PY'
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the connection closes after each answer
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args): pass
class Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops connects: 1 s SYN retransmits
Server(("127.0.0.1", int(sys.argv[1])), Hook).serve_forever()
PY
  python3 "$work/receiver.py" "$hook" &
  pids+=($!)
fi

SLUICE_ADMIN_KEY=$key "$bin" serve --data-dir "$work/data" --listen "127.0.0.1:$port" \
  --graph-url https://127.0.0.1:9 --no-warm-start > "$work/serve.log" 2>&1 &
serve=$!
pids+=("$serve")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
api() { curl -sf -X "$1" "http://127.0.0.1:$port$2" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' ${3:+-d "$3"}; }
api PUT "/v1/senders/$phone" '{"tier_mps":1000,"access_token":"t"}' >/dev/null
# Paused: the campaign stays queued until it is cancelled.
api POST "/v1/senders/$phone/pause" '{"reason":"subscriber throughput run"}' >/dev/null
api POST /v1/subscriptions "{\"url\":\"http://127.0.0.1:$hook/events\",\"secret\":\"subscriber-throughput-secret\",\"events\":[\"status\"],\"batch\":$batch}" >/dev/null
python3 - "$work/campaign.json" "$phone" "$n" <<'PY'
import json, sys
path, phone, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
json.dump({"sender": phone, "message": {"type": "text", "text": {"body": "hi"}},
           "recipients": [{"to": str(966500000000 + i)} for i in range(n)]}, open(path, "w"))
PY
campaign=$(curl -sf -X POST "http://127.0.0.1:$port/v1/campaigns" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  --data-binary "@$work/campaign.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
cpu() { awk '{print $14 + $15}' "/proc/$serve/stat"; }
ticks=$(getconf CLK_TCK)
counters() { api GET /v1/subscriptions/sub_1 | python3 -c 'import json,sys; d=json.load(sys.stdin)["deliveries"]; print(d["delivered"], d["pending"])'; }
before=$(cpu)
start=$(date +%s.%N)
api POST "/v1/campaigns/$campaign/cancel" >/dev/null
echo "t_s delivered pending"
while :; do
  sleep 1
  read -r delivered pending < <(counters)
  now=$(date +%s.%N)
  printf '%.1f %s %s\n' "$(echo "$now - $start" | bc)" "$delivered" "$pending"
  [ "$delivered" -ge "$n" ] && break
done
after=$(cpu)
elapsed=$(echo "$now - $start" | bc)
echo "receiver=$receiver batch=$batch events=$delivered seconds=$elapsed events_per_s=$(echo "$delivered / $elapsed" | bc)" \
  "serve_cpu_us_per_event=$(echo "($after - $before) * 1000000 / $ticks / $delivered" | bc)"
