#!/usr/bin/env bash
# Streams a campaign of N distinct recipients (default 1 000 000) as NDJSON into a release build of
# `sluice serve` with a durable journal, and reports the time of the POST and the server's
# peak RSS (VmHWM) before and after. Results go to stdout; paste them into tuning/RESULTS.md.
#
#   scripts/intake-1m.sh                 # 1 000 000 recipients
#   N=200000 scripts/intake-1m.sh        # fewer
#   BIN=.build-release/release/sluice scripts/intake-1m.sh
#   CHUNKED=1 scripts/intake-1m.sh       # Transfer-Encoding: chunked (curl reads stdin)
#   FORMAT=json scripts/intake-1m.sh     # one JSON body {"sender","message","recipients":[…]}
#
# Build first: swift build -c release --product sluice --build-path .build-release
set -euo pipefail

N=${N:-1000000}
BIN=${BIN:-.build-release/release/sluice}
WORK=${WORK:-$(mktemp -d /tmp/sluice-intake-1m.XXXXXX)}
KEY=intake-bench-admin-key-0123456789
SENDER=106540352242922

[ -x "$BIN" ] || { echo "no $BIN: swift build -c release --product sluice --build-path .build-release" >&2; exit 1; }
cleanup() {
  if [ -n "${PID:-}" ] && kill -0 "$PID" 2>/dev/null; then kill -TERM "$PID"; wait "$PID" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

FORMAT=${FORMAT:-ndjson}
FILE=$WORK/campaign.$FORMAT
echo "generating $N recipients into $FILE"
awk -v n="$N" -v sender="$SENDER" -v format="$FORMAT" 'BEGIN {
  header = sprintf("\"sender\":\"%s\",\"message\":{\"type\":\"template\",\"template\":{\"name\":\"order_shipped\",\"language\":{\"code\":\"en\"},\"components\":[{\"type\":\"body\",\"parameters\":[{\"type\":\"text\",\"text\":\"{{1}}\"},{\"type\":\"text\",\"text\":\"{{2}}\"}]}]}}", sender)
  if (format == "json") printf "{%s,\"recipients\":[\n", header; else printf "{%s}\n", header
  # Numbers built as text: mawk, the Debian awk, clamps %d to 2^31-1, which made every row one number.
  for (i = 0; i < n; i++) printf "%s{\"to\":\"9665%08d\",\"params\":[\"Customer %d\",\"ORD-%08d\"]}\n", (format == "json" && i > 0 ? "," : ""), i, i, i
  if (format == "json") printf "]}\n"
}' > "$FILE"
CONTENT_TYPE=application/x-ndjson
[ "$FORMAT" = json ] && CONTENT_TYPE=application/json
ls -l "$FILE" | awk '{ printf "file: %.1f MB\n", $5 / 1e6 }'

# The endpoint is a closed port: this measures intake; the sender's tier is 1 msg/s so
# that the few sends it attempts (and retries) cost nothing.
SLUICE_ADMIN_KEY=$KEY "$BIN" serve --data-dir "$WORK/data" --listen 127.0.0.1:0 \
  --graph-url http://127.0.0.1:9 > "$WORK/serve.log" 2>&1 &
PID=$!
for _ in $(seq 100); do grep -q "listening on" "$WORK/serve.log" && break; sleep 0.1; done
URL=$(grep 'listening on' "$WORK/serve.log" | grep -o 'http://[0-9.:]*' | head -1)
[ -n "$URL" ] || { cat "$WORK/serve.log"; exit 1; }

curl -sS -f -X PUT "$URL/v1/senders/$SENDER" -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/json' -d '{"tier_mps": 1, "access_token": "bench"}' > /dev/null

hwm() { awk '/^VmHWM|^VmRSS|^RssAnon|^RssFile/ { printf "%s %.1f MB  ", $1, $2 / 1024 }' "/proc/$PID/status"; echo; }
echo "server pid $PID, before: $(hwm)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

UPLOAD=("$FILE")
[ -n "${CHUNKED:-}" ] && UPLOAD=(-)
START=$(date +%s.%N)
# `Expect:` (empty) stops curl from waiting a second for a `100 Continue`.
curl -sS -X POST -T "${UPLOAD[@]}" "$URL/v1/campaigns" -H "Authorization: Bearer $KEY" -H 'Expect:' \
  -H "Content-Type: $CONTENT_TYPE" -H 'Idempotency-Key: intake-1m' \
  -o "$WORK/answer.json" -w 'status %{http_code}, uploaded %{size_upload} bytes\n' < "$FILE"
END=$(date +%s.%N)
echo "answer: $(head -c 300 "$WORK/answer.json")"
awk -v s="$START" -v e="$END" -v n="$N" 'BEGIN { printf "POST took %.2f s: %.0f recipients/s\n", e - s, n / (e - s) }'
echo "after:  $(hwm)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# The retry: same key, same body → the stored answer, nothing journaled twice.
START=$(date +%s.%N)
curl -sS -X POST -T "$FILE" "$URL/v1/campaigns" -H "Authorization: Bearer $KEY" -H 'Expect:' \
  -H "Content-Type: $CONTENT_TYPE" -H 'Idempotency-Key: intake-1m' \
  -o "$WORK/replay.json" -w 'replay: status %{http_code}\n' -D "$WORK/replay.headers"
END=$(date +%s.%N)
cmp -s "$WORK/answer.json" "$WORK/replay.json" && echo "replay: same answer byte for byte" || echo "replay: DIFFERENT answer"
awk -v s="$START" -v e="$END" 'BEGIN { printf "replay took %.2f s (hashes the body, journals nothing)\n", e - s }'
curl -sS "$URL/v1/campaigns/1" -H "Authorization: Bearer $KEY"; echo
curl -sS -o /dev/null -w 'campaign 2: %{http_code} (no second campaign)\n' "$URL/v1/campaigns/2" -H "Authorization: Bearer $KEY"
echo "after replay: $(hwm)"
du -sh "$WORK/data/journal" | awk '{ print "journal on disk: " $1 }'

# The export of every message as CSV, streamed (servers without it answer 404).
START=$(date +%s.%N)
curl -sS "$URL/v1/campaigns/1/messages.csv" -H "Authorization: Bearer $KEY" -o "$WORK/export.csv" -w 'export: status %{http_code}, %{size_download} bytes\n'
END=$(date +%s.%N)
awk -v s="$START" -v e="$END" 'BEGIN { printf "export took %.2f s\n", e - s }'
wc -l < "$WORK/export.csv" | awk '{ print "export rows (with the header): " $1 }'
echo "after export: $(hwm)"
