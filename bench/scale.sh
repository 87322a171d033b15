#!/usr/bin/env bash
# Token rates on SQLite, on PostgreSQL with one instance, and with two instances, in one
# run: client_credentials (ES256 JWT) and the authorization code flow (authorize + token).
# Usage: bench/scale.sh [path/to/latchkey]   (PostgreSQL at 127.0.0.1:5432, user postgres)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../target/release/latchkey}
[ -x "$bin" ] || (cd "$here/.." && cargo build --release -p latchkey)
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
secs=${SECS:-8}
work=$(mktemp -d)
pgdb="latchkey_bench_$$"
cleanup() {
  kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true
  for db in ${pgdb}_1 ${pgdb}_2; do psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" postgres >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
export LATCHKEY_LOG=warn LATCHKEY_ISSUER=http://localhost:9000 LATCHKEY_LOGIN_MAX_FAILURES_PER_ADDRESS=100000
for db in ${pgdb}_1 ${pgdb}_2; do psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $db" postgres; done

setup() { # $1 = database URL; prints "id secret id2 secret2"
  local cc code
  cc=$("$bin" --database-url "$1" clients add --name cc --scope profile --json)
  code=$("$bin" --database-url "$1" clients add --name web --redirect-uri https://app.example/cb --grant-type authorization_code --json)
  echo "password123" | "$bin" --database-url "$1" users add bench --password-stdin >/dev/null
  python3 -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); print(a["client_id"], a["client_secret"], b["client_id"], b["client_secret"])' "$cc" "$code"
}

serve() { # $1 = database URL, $2 = port
  "$bin" --database-url "$1" serve --bind 127.0.0.1:$2 >/dev/null 2>&1 &
  until curl -sf "http://127.0.0.1:$2/healthz" >/dev/null; do sleep 0.05; done
}

session() { # $1 = port, $2 = client id: logs in, consents once, prints the session cookie
  python3 "$here/session.py" "$1" "$2"
}

cc_lua() { # $1 = basic
  cat > cc.lua <<LUA
wrk.method = "POST"
wrk.path = "/token"
wrk.body = "grant_type=client_credentials&scope=profile"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $1"
LUA
}

code_lua() { # $1 session, $2 client id, $3 basic
  { echo "SESSION = \"$1\"; CLIENT_ID = \"$2\"; BASIC = \"$3\"; REDIRECT = \"https://app.example/cb\""
    echo "CHALLENGE = \"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\"; VERIFIER = \"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk\""
    cat "$here/code_flow.lua"; } > code.lua
}

rate() { # wrk output -> requests/sec (number)
  grep Requests/sec | awk '{print $2}'
}

run() { # $1 label, $2 script, $3.. ports: summed requests/s over the ports, 64 connections in all
  local script=$2; shift 2
  local per=$((64 / $#)) pids=() total=0
  for p in "$@"; do wrk -t1 -c$per -d${secs}s -s "$script" "http://127.0.0.1:$p/" > "wrk.$p" & pids+=($!); done
  wait "${pids[@]}"
  for p in "$@"; do
    grep -q "Non-2xx" "wrk.$p" && [ "$script" = cc.lua ] && { echo "errors in wrk.$p" >&2; cat "wrk.$p" >&2; }
    total=$(python3 -c "print(round($total + float('$(rate < "wrk.$p")'), 1))")
  done
  echo "$total"
}

declare -A result
for target in sqlite pg1 pg2; do
  case $target in
    sqlite) url="sqlite://$work/bench.db"; ports=(19101) ;;
    pg1) url="postgres://postgres@127.0.0.1:5432/${pgdb}_1"; ports=(19201) ;;
    pg2) url="postgres://postgres@127.0.0.1:5432/${pgdb}_2"; ports=(19202 19203) ;;
  esac
  read -r id secret id2 secret2 < <(setup "$url")
  for p in "${ports[@]}"; do serve "$url" $p; done
  basic=$(printf '%s:%s' "$id" "$secret" | base64 -w0)
  basic2=$(printf '%s:%s' "$id2" "$secret2" | base64 -w0)
  cookie=$(session "${ports[0]}" "$id2")
  cc_lua "$basic"; code_lua "$cookie" "$id2" "$basic2"
  run warm cc.lua "${ports[@]}" >/dev/null   # warm-up
  result[$target-cc]=$(run cc cc.lua "${ports[@]}")
  flows=$(run code code.lua "${ports[@]}")
  result[$target-code]=$(python3 -c "print(round($flows / 2, 1))")
  kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true
done

echo
echo "| store | instances | client_credentials tokens/s | code flows/s (authorize + token) |"
echo "|---|---|---|---|"
printf '| SQLite | 1 | %s | %s |\n' "${result[sqlite-cc]}" "${result[sqlite-code]}"
printf '| PostgreSQL | 1 | %s | %s |\n' "${result[pg1-cc]}" "${result[pg1-code]}"
printf '| PostgreSQL | 2 | %s | %s |\n' "${result[pg2-cc]}" "${result[pg2-code]}"
echo
echo "64 connections in all, ${secs} s per figure, wrk and the servers on the same $(nproc)-core machine."
