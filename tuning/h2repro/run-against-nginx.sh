#!/bin/sh
# run-against-nginx.sh ACCESS_LOG -- h2repro ARGS...
# Like run-against-mock.sh, for the nginx endpoint (tuning/nginx/run-endpoint.sh): counts
# this run's arrivals in nginx's access log (last field = "to" = 49151 + request number).
set -eu
log=$1; shift; [ "$1" = "--" ] && shift
before=$(wc -l < "$log" 2>/dev/null || echo 0)
err=$(mktemp)
/tmp/h2repro --quiet-errors 100000 "$@" 2>"$err"
sleep 2   # access_log buffer=256k flush=1s
tail -n +"$((before + 1))" "$log" | grep -o '"49151[0-9]*"$' | tr -d '"' | sed 's/^49151//; s/^0*\([0-9]\)/\1/' | sort -n | uniq -c > "$err.arr"
arrived=$(awk '{n+=$1} END{print n+0}' "$err.arr")
distinct=$(wc -l < "$err.arr")
dups=$(awk '$1>1{n+=$1-1} END{print n+0}' "$err.arr")
status=$(tail -n +"$((before + 1))" "$log" | awk '{print $5}' | sort | uniq -c | tr '\n' ' ')
grep -o 'request [0-9a-f]*:[0-9]* FAILED curl=[0-9]*' "$err" | sed 's/request [0-9a-f]*:\([0-9]*\) FAILED curl=\([0-9]*\)/\1 \2/' > "$err.failed" || true
nfail=$(wc -l < "$err.failed")
reached=0
while read -r idx code; do
    if awk -v i="$idx" '$2==i{found=1} END{exit !found}' "$err.arr"; then reached=$((reached+1)); fi
done < "$err.failed"
echo "  nginx access log: $arrived arrivals (status: $status), $distinct distinct requests, $dups duplicate arrivals; of $nfail failed requests $reached reached nginx"
grep -m3 'FAILED' "$err" | sed 's/^/  e.g. /' || true
rm -f "$err" "$err.arr" "$err.failed"
