#!/usr/bin/env bash
# Soak test (not in CI): mixed load against `latchkey serve` on SQLite for a while
# (default 10 minutes), sampling the server's RSS and open file descriptors; both must
# stay flat. Usage: bench/soak.sh [path/to/latchkey] [minutes]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../target/release/latchkey}
minutes=${2:-10}
[ -x "$bin" ] || (cd "$here/.." && cargo build --release -p latchkey)
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
port=19301
export LATCHKEY_LOG=warn LATCHKEY_BIND=127.0.0.1:$port LATCHKEY_LOGIN_MAX_FAILURES_PER_ADDRESS=100000000
cc=$("$bin" clients add --name cc --scope profile --json)
web=$("$bin" clients add --name web --redirect-uri https://app.example/cb --grant-type authorization_code --grant-type refresh_token --json)
opaque=$("$bin" clients add --name opaque --token-format opaque --json)
echo "password123" | "$bin" users add soak --password-stdin >/dev/null
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
b64() { printf '%s:%s' "$(field "$1" client_id)" "$(field "$1" client_secret)" | base64 -w0; }
"$bin" serve >/dev/null 2>&1 &
pid=$!
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.05; done

# Log in and consent once, for the code flow.
cookie=$(python3 "$here/session.py" $port "$(field "$web" client_id)" soak)

cat > cc.lua <<LUA
wrk.method = "POST"; wrk.path = "/token"
wrk.body = "grant_type=client_credentials&scope=profile"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(b64 "$cc")"
LUA
cat > opaque.lua <<LUA
wrk.method = "POST"; wrk.path = "/token"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(b64 "$opaque")"
LUA
{ echo "SESSION = \"$cookie\"; CLIENT_ID = \"$(field "$web" client_id)\"; BASIC = \"$(b64 "$web")\"; REDIRECT = \"https://app.example/cb\""
  echo "CHALLENGE = \"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\"; VERIFIER = \"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk\""
  cat "$here/code_flow.lua"; } > code.lua
cat > login.lua <<'LUA'
wrk.method = "POST"; wrk.path = "/login"
wrk.body = "csrf=x&username=soak&password=wrong"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA

sample() { echo "$(( $(date +%s) - start ))s rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)kB fds=$(ls /proc/$pid/fd | wc -l)"; }
start=$(date +%s)
end=$(( start + minutes * 60 ))
echo "soak: $minutes minutes of client_credentials (JWT and opaque), code flow and bad logins, 32 connections"
sample | tee samples.txt
while [ "$(date +%s)" -lt "$end" ]; do
  for s in cc.lua opaque.lua code.lua login.lua; do
    wrk -t1 -c8 -d15s -s "$s" "http://127.0.0.1:$port/" > "out.$s" &
  done
  wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
  sample | tee -a samples.txt
done
first=$(head -1 samples.txt); last=$(tail -1 samples.txt)
echo "first: $first"
echo "last:  $last"
echo "max RSS: $(grep -o 'rss=[0-9]*' samples.txt | cut -d= -f2 | sort -n | tail -1) kB; max fds: $(grep -o 'fds=[0-9]*' samples.txt | cut -d= -f2 | sort -n | tail -1)"
