#!/bin/sh
# run-endpoint.sh -- start Debian's nginx as a second, independent stand-in for the
# WhatsApp Cloud API send endpoint: TLS + HTTP/2 (ALPN h2, http/1.1) on 127.0.0.1:PORT,
# POST /v{version}/{phone-number-id}/messages answered 200 application/json
#   {"messaging_product":"whatsapp","contacts":[{"input":TO,"wa_id":TO}],"messages":[{"id":"wamid.NGINX<request_id>"}]}
# after DELAY milliseconds (echo module's echo_sleep; a timer, it does not block the worker).
# Everything (config, self-signed certificate, pid, logs, temp dirs) lives in its own
# prefix directory; /etc/nginx and the system service are not touched.
#
# Needs: apt-get install nginx libnginx-mod-http-echo openssl
#
# Usage:
#   tuning/nginx/run-endpoint.sh PORT [DELAY_MS] [options]
#     --prefix DIR              state directory (default /tmp/sluice-nginx-PORT; recreated)
#     --workers N               worker_processes (default 1)
#     --keepalive-requests N    requests per connection before nginx closes it / sends
#                               GOAWAY (default 1000000; nginx's own default is 1000)
#     --foreground             run in the foreground (Ctrl-C stops it)
#   tuning/nginx/run-endpoint.sh --stop PORT [--prefix DIR]
#
# Prints the URL, the CA file (the self-signed certificate itself, for --cacert /
# CURLOPT_CAINFO / --ca-file) and the access log.  Examples:
#   tuning/nginx/run-endpoint.sh 9543 0
#   curl --http2 --cacert /tmp/sluice-nginx-9543/cert.pem -H 'Content-Type: application/json' \
#        -d '{"messaging_product":"whatsapp","to":"4915112345678","type":"text","text":{"body":"hi"}}' \
#        https://127.0.0.1:9543/v21.0/1/messages
#   h2load -n 20000 -c 4 -m 100 --header 'content-type: application/json' -d body.json \
#        https://127.0.0.1:9543/v21.0/1/messages
#   tuning/nginx/run-endpoint.sh --stop 9543
# Access log line: msec connection connection_requests protocol status request_length
#                  request_time "X-Repro-Id" "to"
set -eu

here=$(cd "$(dirname "$0")" && pwd)
template="$here/endpoint.conf.template"

stop=0
if [ "${1:-}" = "--stop" ]; then stop=1; shift; fi
port=${1:?usage: run-endpoint.sh PORT [DELAY_MS] [--prefix DIR] [--workers N] [--keepalive-requests N] [--foreground]}
shift
delay_ms=0
case "${1:-}" in ''|--*) ;; *) delay_ms=$1; shift ;; esac
prefix=/tmp/sluice-nginx-$port
workers=1
keepalive_requests=1000000
foreground=0
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=$2; shift 2 ;;
        --workers) workers=$2; shift 2 ;;
        --keepalive-requests) keepalive_requests=$2; shift 2 ;;
        --foreground) foreground=1; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

if [ "$stop" = 1 ]; then
    if [ -f "$prefix/nginx.pid" ]; then
        /usr/sbin/nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/logs/error.log" -s quit
        echo "stopped nginx on port $port (prefix $prefix)"
    else
        echo "no $prefix/nginx.pid" >&2; exit 1
    fi
    exit 0
fi

case "$delay_ms" in *[!0-9]*) echo "DELAY_MS must be whole milliseconds" >&2; exit 2 ;; esac
[ -f /usr/lib/nginx/modules/ngx_http_echo_module.so ] || { echo "install libnginx-mod-http-echo" >&2; exit 1; }

if [ -f "$prefix/nginx.pid" ] && kill -0 "$(cat "$prefix/nginx.pid")" 2>/dev/null; then
    echo "nginx already running with prefix $prefix (pid $(cat "$prefix/nginx.pid")); --stop it first" >&2
    exit 1
fi
rm -rf "$prefix"
mkdir -p "$prefix/logs" "$prefix/tmp"
chmod 755 "$prefix"

# Self-signed certificate for 127.0.0.1 / localhost; it is its own CA file.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/O=Sluice/CN=Sluice nginx endpoint" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -keyout "$prefix/key.pem" -out "$prefix/cert.pem" 2>/dev/null

# Workers drop to an unprivileged user when the master runs as root.
if [ "$(id -u)" = 0 ]; then
    user="nobody nogroup"
    chown -R nobody:nogroup "$prefix/tmp"
else
    user="$(id -un)"
fi

if [ "$delay_ms" -gt 0 ]; then
    delay_directive="echo_sleep $(awk "BEGIN{printf \"%.3f\", $delay_ms/1000}");"
else
    delay_directive="# no delay"
fi

sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$port|g" -e "s|@WORKERS@|$workers|g" \
    -e "s|@KEEPALIVE_REQUESTS@|$keepalive_requests|g" -e "s|@USER@|$user|g" \
    -e "s|@DELAY_DIRECTIVE@|$delay_directive|g" "$template" > "$prefix/nginx.conf"

nginx_cmd="/usr/sbin/nginx -p $prefix -c $prefix/nginx.conf -e $prefix/logs/error.log"
$nginx_cmd -t -q

echo "nginx endpoint: https://127.0.0.1:$port/v21.0/{phone-number-id}/messages (delay ${delay_ms} ms, workers $workers, keepalive_requests $keepalive_requests)"
echo "CA file: $prefix/cert.pem"
echo "access log: $prefix/logs/access.log   stop: $0 --stop $port${prefix:+ --prefix $prefix}"
if [ "$foreground" = 1 ]; then
    exec $nginx_cmd -g "daemon off;"
else
    $nginx_cmd
    sleep 0.3
    echo "pid $(cat "$prefix/nginx.pid")"
fi
