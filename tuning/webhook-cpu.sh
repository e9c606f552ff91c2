#!/usr/bin/env bash
# CPU that `serve` spends per status webhook POST (tuning/RESULTS.md, "The status path"):
# h2load posts the same signed one-status body N times over HTTP/1.1 keep-alive; the
# figure is serve's own user + system CPU over the run (from /proc) divided by N. The
# status names a message of a journaled campaign, so every POST is parsed, verified,
# matched and written (after the first, the state machine refuses the repeat: a
# duplicate, as Meta's redeliveries are).
#
#   tuning/webhook-cpu.sh                    # 30 000 posts over 16 connections
#   N=60000 CONNECTIONS=32 tuning/webhook-cpu.sh
#   STATUSES=100 tuning/webhook-cpu.sh        # 100 statuses per POST (the mock's old grouping)
#   FLOOR=1 tuning/webhook-cpu.sh              # the reference: GET /healthz on the same server
#   PERF=1 tuning/webhook-cpu.sh && perf report -i /tmp/sluice-webhook-cpu.perf --no-children
#
# Needs a release build: swift build -c release --product sluice --scratch-path .build-release
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SLUICE:-.build-release/release/sluice}
n=${N:-30000}
connections=${CONNECTIONS:-16}
statuses=${STATUSES:-1}
work=$(mktemp -d /tmp/sluice-webhook-cpu.XXXXXX)
trap 'kill "$serve" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
key=webhook-cpu-admin-key-0123456789
secret=webhook-cpu-app-secret
phone=1065000900
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SLUICE_ADMIN_KEY=$key "$bin" serve --data-dir "$work/data" --listen "127.0.0.1:$port" \
  --graph-url https://127.0.0.1:9 --no-warm-start > "$work/serve.log" 2>&1 &
serve=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
api() { curl -sf -X "$1" "http://127.0.0.1:$port$2" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' ${3:+-d "$3"}; }
# Paused: the campaign stays queued, its messages journaled.
api PUT "/v1/senders/$phone" "{\"tier_mps\":80,\"access_token\":\"t\",\"app_secret\":\"$secret\"}" >/dev/null
api POST "/v1/senders/$phone/pause" '{"reason":"webhook CPU run"}' >/dev/null
api POST /v1/campaigns "{\"sender\":\"$phone\",\"message\":{\"type\":\"text\",\"text\":{\"body\":\"hi\"}},\"recipients\":[{\"to\":\"966500000001\"}]}" >/dev/null
python3 - "$work" "$phone" "$secret" "$statuses" <<'PY'
import hashlib, hmac, json, sys
work, phone, secret, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
statuses = [{"id": f"wamid.CPU{i}", "status": "delivered", "timestamp": "1749979800", "recipient_id": "966500000001",
             "biz_opaque_callback_data": "1"} for i in range(count)]
body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "0", "changes": [{"field": "messages", "value": {
    "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550000900", "phone_number_id": phone},
    "statuses": statuses}}]}]}, separators=(",", ":")).encode()
open(f"{work}/body.json", "wb").write(body)
open(f"{work}/signature", "w").write("sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest())
PY
sig=$(cat "$work/signature")
cpu() { awk '{print $14 + $15}' "/proc/$serve/stat"; }
ticks=$(getconf CLK_TCK)
before=$(cpu)
# PERF=1: a profile of serve during the run, kept in /tmp/sluice-webhook-cpu.perf.
[ "${PERF:-0}" = 1 ] && { perf record -F 499 -g -p "$serve" -o /tmp/sluice-webhook-cpu.perf -- sleep 3 > /dev/null 2>&1 & }
if [ "${FLOOR:-0}" = 1 ]; then
  # The floor: the same server answering GET /healthz, no webhook work at all.
  h2load --h1 -n "$n" -c "$connections" "http://127.0.0.1:$port/healthz" > "$work/h2load.txt"
else
  h2load --h1 -n "$n" -c "$connections" -d "$work/body.json" -H "X-Hub-Signature-256: $sig" -H 'Content-Type: application/json' \
    "http://127.0.0.1:$port/webhooks/whatsapp" > "$work/h2load.txt"
fi
after=$(cpu)
grep -E "^finished in|^requests:|^status codes:" "$work/h2load.txt"
python3 -c "
b, a, t, n, s = $before, $after, $ticks, $n, $statuses
print(f'serve CPU: {(a - b) / t:.2f} s for {n} POSTs of {s} status(es): {(a - b) / t / n * 1e6:.1f} us per POST, {(a - b) / t / n / s * 1e6:.1f} us per status')
"
