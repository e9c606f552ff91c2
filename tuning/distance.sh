#!/usr/bin/env bash
# The distance matrix of tuning/RESULTS.md ("Distance"): `sluice loadtest` with serve's
# defaults against the mock at several answer-time profiles, over HTTP/2 and HTTP/1.1,
# and one line per run: mean % of tier (lowest sender), most arrivals in any sliding
# second (highest sender, against its tier), most requests in flight, most connections
# to the endpoint, dispatcher CPU s per 1 000 messages, peak RSS, 130429s.
#
#   tuning/distance.sh                      # 4 numbers at tier 1000, 15 s, 5 profiles x 2 protocols
#   SENDERS=24 SECONDS_PER_RUN=10 PROFILES="fixed:0 fixed:200" VERSIONS=2 tuning/distance.sh
#   CONNECT_MS=300 EXTRA=--no-warm-start tuning/distance.sh  # each new connection costs 300 ms; no warm start
#
# Needs a release build: swift build -c release --product sluice --scratch-path .build-release
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SLUICE:-.build-release/release/sluice}
senders=${SENDERS:-4}
seconds=${SECONDS_PER_RUN:-15}
profiles=${PROFILES:-"fixed:0 fixed:50 fixed:200 fixed:500 long-tail:150/800"}
versions=${VERSIONS:-"2 1.1"}
out=${OUT:-/tmp/sluice-distance}
connect=${CONNECT_MS:-0}
extra=${EXTRA:-}
mkdir -p "$out"
tiers=$(printf '1000,%.0s' $(seq "$senders")); tiers=${tiers%,}
printf '| latency | HTTP | numbers | mean of tier (lowest) | first second (lowest) | most in 1 s (highest) | in flight (most) | connections (most) | CPU s / 1 000 | peak RSS MiB | 130429 |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|\n'
for profile in $profiles; do
  for version in $versions; do
    dir="$out/$(echo "$profile-$version-$senders" | tr ':/' '__')"
    rm -rf "$dir"
    # shellcheck disable=SC2086
    "$bin" loadtest --tiers "$tiers" --seconds "$seconds" --latency "$profile" --http-version "$version" \
      --connect-latency "$connect" $extra \
      --work-dir "$dir/work" --report-dir "$dir/report" > "$dir.log" 2>&1 || true
    python3 - "$dir/report/report.json" "$profile" "$version" "$senders" <<'PY'
import json, sys
path, profile, version, senders = sys.argv[1:5]
try:
    r = json.load(open(path))
except Exception as e:
    print(f"| {profile} | {version} | {senders} | run failed: {e} |"); sys.exit(0)
ps = [s["pacing"] for s in r["senders"]]
mean = min(p["mean_of_tier"] for p in ps) * 100
peak = max(p["max_in_1s"] for p in ps)
first = min(p["arrivals_per_second"][0] if p["arrivals_per_second"] else 0 for p in ps)
d = r.get("dispatcher", {})
t = r["totals"]
print(f"| {profile} | {version} | {senders} | {mean:.1f} % | {first} | {peak} / {ps[0]['tier_mps']} | {d.get('in_flight_max','–')} | {d.get('endpoint_connections_max','–')} "
      f"| {d.get('cpu_seconds_per_1000_messages',0):.2f} | {d.get('peak_rss_bytes',0)/1048576:.0f} | {t.get('errors_130429', '?')} |")
PY
  done
done
