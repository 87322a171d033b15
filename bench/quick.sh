#!/usr/bin/env bash
# Quick measurements of the release binary (not the full benchmark of issue 5):
# start-up to the first answered request, idle RSS, binary size, and client_credentials
# tokens per second with wrk. Usage: bench/quick.sh [path/to/latchkey]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../target/release/latchkey}
[ -x "$bin" ] || (cd "$here/.." && cargo build --release -p latchkey)
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
port=18080
export LATCHKEY_BIND=127.0.0.1:$port LATCHKEY_LOG=warn

"$bin" migrate >/dev/null
creds=$("$bin" clients add --name bench --scope profile --json)
id=$(printf '%s' "$creds" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
secret=$(printf '%s' "$creds" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')

echo "binary size: $(stat -c %s "$bin") bytes ($(du -h "$bin" | cut -f1))"

# Start-up: process start to first answered /healthz, on an existing database, 10 runs.
python3 - "$bin" "$port" <<'PY'
import socket, subprocess, sys, time
binary, port = sys.argv[1], int(sys.argv[2])
times = []
for _ in range(10):
    t0 = time.perf_counter()
    p = subprocess.Popen([binary, "serve"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if s.recv(64).startswith(b"HTTP/1.1 200"):
                times.append((time.perf_counter() - t0) * 1000)
                s.close()
                break
            s.close()
        except OSError:
            time.sleep(0.0005)
    p.terminate(); p.wait()
times.sort()
print(f"start-up to first answered request: median {times[len(times)//2]:.1f} ms, min {times[0]:.1f} ms, max {times[-1]:.1f} ms")
PY

"$bin" serve >/dev/null 2>&1 &
pid=$!
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.05; done
sleep 1
echo "idle RSS: $(grep VmRSS /proc/$pid/status | awk '{print $2, $3}')"

basic=$(printf '%s:%s' "$id" "$secret" | base64 -w0)
cat > cc.lua <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=profile"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $basic"
LUA
wrk -t2 -c64 -d10s -s cc.lua "http://127.0.0.1:$port/token" > /dev/null   # warm-up
echo "client_credentials (ES256 JWT), 64 connections, 10 s:"
wrk -t2 -c64 -d10s --latency -s cc.lua "http://127.0.0.1:$port/token" | grep -E "Requests/sec|Latency|50%|99%|Non-2xx"
echo "RSS after load: $(grep VmRSS /proc/$pid/status | awk '{print $2, $3}')"
