#!/bin/sh
# run-against-mock.sh RECORD_FILE -- h2repro ARGS...
# Runs h2repro (built at /tmp/h2repro, see h2repro.c) against a `sluice mock ... --record
# RECORD_FILE`, then checks the mock's arrival record for THIS run: how many requests
# arrived, how many arrived more than once (duplicates, e.g. after a client retry), and
# whether the requests that failed with a CURLcode had reached the mock anyway.
# h2repro puts the request number into "to" (49151 + 8 digits).
set -eu
rec=$1; shift; [ "$1" = "--" ] && shift
before=$(wc -l < "$rec" 2>/dev/null || echo 0)
err=$(mktemp)
/tmp/h2repro --quiet-errors 100000 "$@" 2>"$err"
sleep 2   # the mock flushes its record periodically
tail -n +"$((before + 1))" "$rec" | grep -o '"to":"49151[0-9]*"' | sed 's/.*49151\([0-9]*\)"/\1/' | sed 's/^0*\([0-9]\)/\1/' | sort -n | uniq -c > "$err.arr"
arrived=$(awk '{n+=$1} END{print n+0}' "$err.arr")
distinct=$(wc -l < "$err.arr")
dups=$(awk '$1>1{n+=$1-1} END{print n+0}' "$err.arr")
grep -o 'request [0-9a-f]*:[0-9]* FAILED curl=[0-9]*' "$err" | sed 's/request [0-9a-f]*:\([0-9]*\) FAILED curl=\([0-9]*\)/\1 \2/' > "$err.failed" || true
nfail=$(wc -l < "$err.failed")
reached=0
while read -r idx code; do
    if awk -v i="$idx" '$2==i{found=1} END{exit !found}' "$err.arr"; then reached=$((reached+1)); fi
done < "$err.failed"
echo "  mock record: $arrived arrivals, $distinct distinct requests, $dups duplicate arrivals; of $nfail failed requests $reached reached the mock"
grep -m3 'FAILED' "$err" | sed 's/^/  e.g. /' || true
rm -f "$err" "$err.arr" "$err.failed"
