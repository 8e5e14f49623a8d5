#!/bin/bash
# Instructions (callgrind) of qmesh-router, or nginx, per relayed SSE event and per request.
#   bench/profile_router.sh <release build dir> <label> [nginx]
# Phases: 200 one-event streaming requests one after another, then 16 streams of 51 events.
# Writes /tmp/perf-cg/<label>/cg.out.{1,2} (1 = requests, 2 = events); set FAKE_ARGS=--no-keepalive
# for an upstream that closes every connection. Read with bench/callgrind_self.py.
set -u
B=$(cd "$1" && pwd); L=$2; WHAT=${3:-router}
D=/tmp/perf-cg/$L; rm -rf $D; mkdir -p $D; cd $D
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
UP=$(port); UP1=$(port); RP=$(port)
$B/bench/qmesh-bench-fake-upstream --port $UP --events 50 --interval-ms 20 --event-bytes 200 ${FAKE_ARGS:-} >/dev/null & F1=$!
$B/bench/qmesh-bench-fake-upstream --port $UP1 --events 1 --interval-ms 0 --event-bytes 200 ${FAKE_ARGS:-} >/dev/null & F2=$!
if [ "$WHAT" = nginx ]; then
  mkdir -p $D/ng; cat > $D/ng/nginx.conf <<NG
worker_processes 1; master_process off; daemon off; user root;
pid $D/ng/nginx.pid; error_log $D/ng/error.log warn;
events { worker_connections 8192; }
http { access_log off; client_body_temp_path $D/ng/body; proxy_temp_path $D/ng/proxy;
  fastcgi_temp_path $D/ng/f; uwsgi_temp_path $D/ng/u; scgi_temp_path $D/ng/s;
  upstream fake { server 127.0.0.1:$UP; keepalive 64; }
  upstream fake_ttfb { server 127.0.0.1:$UP1; keepalive 64; }
  server { listen 127.0.0.1:$RP backlog=4096;
    location /ttfb/ { proxy_pass http://fake_ttfb/; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; tcp_nodelay on; }
    location / { proxy_pass http://fake; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; proxy_read_timeout 1h; tcp_nodelay on; } } }
NG
  valgrind --tool=callgrind --callgrind-out-file=$D/cg.out nginx -c $D/ng/nginx.conf -p $D/ng 2>$D/vg.log & R=$!
  TT=/ttfb
else
  valgrind --tool=callgrind --callgrind-out-file=$D/cg.out $B/router/qmesh-router --listen 127.0.0.1:$RP --node bench \
    --worker bench=http://127.0.0.1:$UP,slots=4096 --worker bench-ttfb=http://127.0.0.1:$UP1,slots=4096 --log-level warn 2>$D/vg.log & R=$!
  TT=
fi
for i in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$RP) 2>/dev/null && break; sleep 0.2; done
$B/bench/qmesh-bench-load --port $RP --streams 2 --rounds 3 --model bench-ttfb --path $TT/v1/chat/completions >/dev/null  # warm-up
callgrind_control -z $R >/dev/null
$B/bench/qmesh-bench-load --port $RP --streams 1 --rounds 200 --model bench-ttfb --path $TT/v1/chat/completions > $D/ttfb.json
callgrind_control -d ttfb $R >/dev/null
callgrind_control -z $R >/dev/null
$B/bench/qmesh-bench-load --port $RP --streams 16 --rounds 1 --model bench > $D/stream.json
callgrind_control -d stream $R >/dev/null
kill $R $F1 $F2; wait $R $F1 $F2 2>/dev/null
for f in $D/cg.out.*; do echo "$f $(grep -m1 '^summary\|^totals' $f)"; done
cat $D/ttfb.json $D/stream.json | python3 -c '
import sys,json
for l in sys.stdin: r=json.loads(l); print(r["completed"], r["events"], r["ttfb_ms_p50"], r["failures"])'
