# Sourced by the subscriber scripts: `nginx_receiver DIR PORT` writes a minimal nginx
# (one worker, keep-alive, answers 204 to anything) under DIR listening on 127.0.0.1:PORT
# and starts it in the background; its pid is in $!.
nginx_receiver() {
  local dir=$1 port=$2
  mkdir -p "$dir/tmp"
  cat > "$dir/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/tmp;
    keepalive_requests 10000000;
    server { listen 127.0.0.1:$port; location / { client_body_buffer_size 64k; return 204; } }
}
EOF
  nginx -p "$dir" -c "$dir/nginx.conf" &
}
