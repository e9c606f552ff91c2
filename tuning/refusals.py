#!/usr/bin/env python3
"""Where the mock refused sends over the tier (130429), from a load test's work dir.

    .build-release/release/sluice loadtest --tiers 1000,1000 --seconds 15 --work-dir /tmp/lt
    tuning/refusals.py /tmp/lt [TIER]

For each refusal: seconds since the sender's first arrival, the sender's accepted
arrivals in the second before it (the mock's window: the tier when it refused), and in
the 50 ms and 10 ms before it, against the paced share of those spans. A squeeze shows
as far more than the paced share in the last few milliseconds: the arrivals came
together, not the departures.
"""
import bisect
import json
import sys
from collections import defaultdict

work = sys.argv[1]
tier = float(sys.argv[2]) if len(sys.argv) > 2 else 1000.0
arrivals = defaultdict(list)
for line in open(f"{work}/arrivals.ndjson"):
    a = json.loads(line)
    arrivals[a["phone_number_id"]].append(a["t"])
for times in arrivals.values():
    times.sort()
refusals = [json.loads(line) for line in open(f"{work}/refusals.ndjson")] if __import__("os").path.exists(f"{work}/refusals.ndjson") else []
print(f"{len(refusals)} refusal(s); paced share at tier {tier:.0f}: {tier * 0.05:.0f} per 50 ms, {tier * 0.01:.0f} per 10 ms")
print("sender        at s    in 1 s  in 50 ms  in 10 ms")
for r in sorted(refusals, key=lambda r: r["t"]):
    times = arrivals.get(r["phone_number_id"], [])
    if not times:
        continue
    t = r["t"]
    def before(span):
        return bisect.bisect_left(times, t) - bisect.bisect_left(times, t - span)
    print(f"{r['phone_number_id']:12} {(t - times[0]) / 1e9:6.2f}  {before(1_000_000_000):7d}  {before(50_000_000):8d}  {before(10_000_000):8d}")
