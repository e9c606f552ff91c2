#!/usr/bin/env python3
"""Lines up when each message left the dispatcher with when the endpoint saw it, from a
load test's work dir: the dispatcher's departure record (<work>/data/departures, written
just before libcurl writes each request) against the mock's arrivals and refusals.

    .build-release/release/sluice loadtest --tiers 1000,1000,1000,1000 --seconds 15 \
        --latency fixed:200 --work-dir /tmp/lt
    tuning/departures.py /tmp/lt

Prints the transit time (arrival − departure) and, for each cluster of 130429
refusals, the sender's departures in the second before the refused one left (the
pacer's bound) and the arrivals the endpoint counted in its window that had left
before that window began (held between our write and the endpoint's stamp).
"""
import bisect
import collections
import json
import os
import struct
import sys

work = sys.argv[1]
HEADER, ENTRY = 64, 16

with open(f"{work}/data/departures", "rb") as f:
    raw = f.read()
if raw[:8] != b"SLDEP001":
    sys.exit("no departure record (or one torn by a crash) in " + work)
departed = collections.defaultdict(list)  # message id -> wall ns of each departure
for off in range(HEADER, len(raw), ENTRY):
    wall, mid = struct.unpack_from("<qQ", raw, off)
    if mid == 0:
        break
    departed[str(mid)].append(wall)

arrival = {}
by_sender = collections.defaultdict(list)
for line in open(f"{work}/arrivals.ndjson"):
    a = json.loads(line)
    arrival[a["callback"]] = a["t"]
    by_sender[a["phone_number_id"]].append((a["t"], a["callback"]))


def last_departure(callback, before):
    """The departure that carried the request seen at `before` (a resend leaves again)."""
    times = [t for t in departed.get(callback, []) if t <= before + 50_000_000]
    return max(times) if times else None


transit = sorted(t - d for c, t in arrival.items() if (d := last_departure(c, t)) is not None)
if not transit:
    sys.exit("no arrival matches a departure")
q = lambda p: transit[int(p * (len(transit) - 1))] / 1e6
print(f"{len(transit)} arrivals matched; transit ms: p1 {q(.01):.2f}  p50 {q(.5):.2f}  p99 {q(.99):.2f}  p99.9 {q(.999):.2f}  max {q(1):.2f}")
print("(negative: the mock stamped the request before the dispatcher's stamp, taken just before the write)")

refusals = []
if os.path.exists(f"{work}/refusals.ndjson"):
    refusals = [json.loads(line) for line in open(f"{work}/refusals.ndjson")]
print(f"{len(refusals)} refusal(s)")
if not refusals:
    sys.exit(0)
t0 = min(arrival.values())
departures_of = {s: sorted(d for _, c in lst for d in departed.get(c, [])) for s, lst in by_sender.items()}
print("sender        at s    left 1 s before  counted by mock  of which left before its window (transit ms)")
seen = set()
for r in sorted(refusals, key=lambda r: r["t"]):
    s, t = r["phone_number_id"], r["t"]
    if (s, t // 20_000_000) in seen:
        continue
    seen.add((s, t // 20_000_000))
    d = last_departure(r.get("callback", ""), t)
    ds = departures_of.get(s, [])
    ours = bisect.bisect_left(ds, d) - bisect.bisect_left(ds, d - 1_000_000_000) if d else -1
    window = [(a, c) for a, c in by_sender[s] if t - 1_000_000_000 <= a < t]
    early = [(a - last_departure(c, a)) / 1e6 for a, c in window if (last_departure(c, a) or t) < t - 1_000_000_000]
    span = f"{len(early)} ({min(early):.1f}..{max(early):.1f})" if early else "0"
    print(f"{s:12} {(t - t0) / 1e9:6.2f}  {ours:15d}  {len(window):15d}  {span}")
