#!/usr/bin/env python3
"""The Latchkey benchmark (issue 5). Run it through bench/run.sh, which builds first.

Starts `latchkey serve` on a fresh SQLite file (and on a fresh PostgreSQL database),
registers clients and a user through the real CLI, logs in through the real pages, and
drives each scenario with wrk at several connection counts, in rounds that alternate
Latchkey and the baseline (bench/baseline) so drift hits both alike. Prints a markdown
report and writes it to bench/results/.
"""
import argparse
import base64
import datetime
import http.client
import json
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

ANSI = __import__("re").compile(r"\x1b\[[0-9;]*m")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
REDIRECT = "https://app.example/cb"
PASSWORD = "password123"
FORM = "application/x-www-form-urlencoded"

# Scenario key -> (title, floor key, share of the floor the issue asks for).
SCENARIOS = {
    "cc_jwt": ("1. client_credentials, JWT (ES256)", "sign", 0.70),
    "cc_opaque": ("2. client_credentials, opaque (row written)", "write", 0.50),
    "code": ("3. authorization_code redemption (PKCE), access + refresh", "write", 0.50),
    "refresh": ("4. refresh_token rotation", "write", 0.50),
    "introspect_jwt": ("5a. introspection of a JWT", "read", 0.60),
    "introspect_opaque": ("5b. introspection of an opaque token", "read", 0.60),
    "authorize": ("6. GET /authorize, logged in, consent remembered (302)", "read", 0.60),
    "resource": ("7. route protected by latchkey-resource (JWT)", "verify", 0.80),
}
FLOORS = {
    "sign": "parse form + Basic check + ES256 sign",
    "write": "parse form + Basic check + SQLite insert",
    "read": "parse form + Basic check + SQLite read",
    "verify": "bare route verifying the JWT",
}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def request(port, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.headers, data


def wait_ready(port, proc, what):
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited with {proc.returncode}; see its log in the work directory")
        try:
            status, _, _ = request(port, "GET", "/healthz")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.02)
    sys.exit(f"{what} did not start")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak(pid):
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class Server:
    """A running process whose CPU time and memory are measured."""

    def __init__(self, name, args, env, port, log_path):
        self.name, self.port = name, port
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_ready(port, self.proc, name)
        except SystemExit:
            self.proc.kill()
            raise
        self.peak_kib = 0
        self.warnings = []

    def peak(self):
        self.peak_kib = max(self.peak_kib, rss_kib(self.proc.pid, "VmHWM"))
        return self.peak_kib

    def stop(self):
        self.peak()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        # What the server logged at warn level and above, for the report.
        with open(self.log.name, errors="replace") as f:
            lines = [l.strip() for l in f if " WARN" in l or " ERROR" in l]
        self.warnings = lines


class Bench:
    def __init__(self, args, work):
        self.args, self.work = args, work
        self.bin = os.path.join(args.target, "latchkey")
        self.baseline_bin = os.path.join(args.target, "latchkey-baseline")
        self.results = {}  # (target, scenario, connections) -> list of run dicts
        self.peaks = {}

    # --- wrk -------------------------------------------------------------------------

    def script(self, name, settings):
        """Writes DIR/name.lua: the settings, common.lua, then the scenario's script
        (the name is `target_kind` or `kind`)."""
        kind = name if name in SCRIPTS else name.split("_", 1)[1]
        path = os.path.join(self.work, f"{name}.lua")
        with open(path, "w") as out:
            for k, v in settings.items():
                out.write(f"{k} = {lua(v)}\n")
            out.write(f"DIR = {lua(self.work)}\n")
            for part in ("common.lua", SCRIPTS[kind]):
                with open(os.path.join(HERE, "lua", part)) as f:
                    out.write(f.read() + "\n")
        return path

    def wrk(self, script, port, connections, seconds, path="/"):
        threads = 1 if connections == 1 else 2
        cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script,
               f"http://127.0.0.1:{port}{path}"]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=self.work).stdout
        line = next((l for l in out.splitlines() if l.startswith("RESULT ")), None)
        if line is None:
            sys.exit(f"wrk printed no result:\n{out}")
        return json.loads(line[len("RESULT "):])

    def measure(self, target, scenario, server, script, connections, path="/", seconds=None):
        """Runs wrk once against `server` and records the figures of that run."""
        seconds = seconds or self.args.seconds
        reset_peak(server.proc.pid)
        cpu0 = cpu_seconds(server.proc.pid)
        r = self.wrk(script, server.port, connections, seconds, path)
        cpu = cpu_seconds(server.proc.pid) - cpu0
        run = {
            "rps": r["requests"] / (r["duration_us"] / 1e6),
            "p50_ms": r["p50_us"] / 1000,
            "p99_ms": r["p99_us"] / 1000,
            "errors": r["socket_errors"] + r["status_errors"] + r["bad"],
            "exhausted": r["exhausted"],
            "cpu_us": cpu / max(r["requests"], 1) * 1e6,
            "peak_kib": rss_kib(server.proc.pid, "VmHWM"),
        }
        server.peak()
        self.results.setdefault((target, scenario, connections), []).append(run)
        log(f"  {target:10} {scenario:18} c={connections:<3} {run['rps']:9.0f} req/s  p50 {run['p50_ms']:6.2f} ms"
            f"  p99 {run['p99_ms']:6.2f} ms  errors {run['errors']}  cpu {run['cpu_us']:6.0f} us/req")
        return run

    # --- set-up through the real CLI and pages -----------------------------------------

    def cli(self, env, *args, stdin=None):
        out = subprocess.run([self.bin, *args], env=env, input=stdin, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"latchkey {' '.join(args)} failed: {out.stderr}")
        return out.stdout

    def latchkey_env(self, database_url, port, metrics_port):
        env = dict(os.environ)
        env.update({
            "LATCHKEY_DATABASE_URL": database_url,
            "LATCHKEY_BIND": f"127.0.0.1:{port}",
            "LATCHKEY_ISSUER": f"http://127.0.0.1:{port}",
            "LATCHKEY_METRICS_BIND": f"127.0.0.1:{metrics_port}",
            "LATCHKEY_LOG": "warn",
            "LATCHKEY_ACCESS_TOKEN_TTL": "3600",
            # Every login comes from 127.0.0.1 as the same user, and an attempt is counted
            # while its password is checked: without these, scenario 8's logins are
            # refused (429) instead of hashed, and the scenario measures nothing.
            "LATCHKEY_LOGIN_MAX_FAILURES": "1000000",
            "LATCHKEY_LOGIN_MAX_FAILURES_PER_ADDRESS": "1000000",
            # Scenario 8 has 16 connections logging in at once: let every one wait for a
            # hashing thread (the default queue, 8 per thread, answers the rest 503 at once).
            "LATCHKEY_PASSWORD_HASH_QUEUE": "16",
        })
        return env

    def provision(self, env):
        """Clients and a user, through `latchkey clients add` and `latchkey users add`."""
        def add(*extra):
            return json.loads(self.cli(env, "clients", "add", "--json", *extra))
        cc = add("--name", "bench-cc", "--scope", "profile", "--grant-type", "client_credentials")
        opaque = add("--name", "bench-opaque", "--scope", "profile", "--grant-type", "client_credentials",
                     "--token-format", "opaque")
        web = add("--name", "bench-web", "--redirect-uri", REDIRECT, "--scope", "profile",
                  "--grant-type", "authorization_code", "--grant-type", "refresh_token")
        self.cli(env, "users", "add", "bench", "--password-stdin", stdin=PASSWORD + "\n")
        return {"cc": cc, "opaque": opaque, "web": web}

    def start_latchkey(self, name, database_url, port):
        env = self.latchkey_env(database_url, port, port + 1)
        self.cli(env, "migrate")
        clients = self.provision(env)
        server = Server(name, [self.bin, "serve"], env, port, os.path.join(self.work, f"{name}.log"))
        return server, env, clients

    # --- the scenarios -----------------------------------------------------------------

    def scripts_for(self, server, clients):
        port = server.port
        basic = {k: basic_auth(c["client_id"], c["client_secret"]) for k, c in clients.items()}
        cookie = login_and_consent(port, clients["web"]["client_id"])
        jwt = token(port, basic["cc"])
        opaque = token(port, basic["opaque"])
        authorize = "/authorize?" + urllib.parse.urlencode({
            "response_type": "code", "client_id": clients["web"]["client_id"], "redirect_uri": REDIRECT,
            "scope": "profile", "state": "s", "code_challenge": CHALLENGE, "code_challenge_method": "S256"})
        cc_headers = {"Content-Type": FORM, "Authorization": "Basic " + basic["cc"]}
        t = server.name
        return {
            "cc_jwt": self.script(f"{t}_cc_jwt", {"METHOD": "POST", "PATH": "/token", "EXPECT": 200,
                "BODY": "grant_type=client_credentials&scope=profile", "HEADERS": cc_headers}),
            "cc_opaque": self.script(f"{t}_cc_opaque", {"METHOD": "POST", "PATH": "/token", "EXPECT": 200,
                "BODY": "grant_type=client_credentials&scope=profile",
                "HEADERS": {"Content-Type": FORM, "Authorization": "Basic " + basic["opaque"]}}),
            "mint": self.script(f"{t}_mint", {"AUTHORIZE": authorize, "COOKIE": cookie}),
            "code": self.script(f"{t}_code", {"BASIC": basic["web"], "REDIRECT": REDIRECT, "VERIFIER": VERIFIER}),
            "refresh": self.script(f"{t}_refresh", {"BASIC": basic["web"]}),
            "introspect_jwt": self.script(f"{t}_introspect_jwt", {"METHOD": "POST", "PATH": "/introspect",
                "EXPECT": 200, "BODY": "token=" + jwt, "HEADERS": cc_headers}),
            "introspect_opaque": self.script(f"{t}_introspect_opaque", {"METHOD": "POST", "PATH": "/introspect",
                "EXPECT": 200, "BODY": "token=" + opaque, "HEADERS": cc_headers}),
            "authorize": self.script(f"{t}_authorize", {"METHOD": "GET", "PATH": authorize, "EXPECT": 302,
                "BODY": "", "HEADERS": {"Cookie": cookie}}),
            "jwt": jwt,
            "login": self.login_script(port, t),
        }

    def login_script(self, port, t):
        """POST /login with the right password, over and over (Argon2id each time)."""
        status, headers, page = request(port, "GET", "/login")
        csrf_cookie = headers["Set-Cookie"].split(";")[0]
        csrf = field(page.decode(), "csrf")
        body = urllib.parse.urlencode({"csrf": csrf, "return_to": "", "username": "bench", "password": PASSWORD})
        return self.script(f"{t}_login", {"METHOD": "POST", "PATH": "/login", "EXPECT": 303, "BODY": body,
                                          "HEADERS": {"Content-Type": FORM, "Cookie": csrf_cookie}})

    def baseline_scripts(self, baseline, jwt, secret_pair):
        basic = basic_auth(*secret_pair)
        headers = {"Content-Type": FORM, "Authorization": "Basic " + basic}
        status, _, body = request(baseline.port, "POST", "/write", "grant_type=client_credentials&scope=profile",
                                  headers)
        stored = json.loads(body)["access_token"]
        return {
            "sign": self.script("floor_sign", {"METHOD": "POST", "PATH": "/sign", "EXPECT": 200,
                "BODY": "grant_type=client_credentials&scope=profile", "HEADERS": headers}),
            "write": self.script("floor_write", {"METHOD": "POST", "PATH": "/write", "EXPECT": 200,
                "BODY": "grant_type=client_credentials&scope=profile", "HEADERS": headers}),
            "read": self.script("floor_read", {"METHOD": "POST", "PATH": "/read", "EXPECT": 200,
                "BODY": "token=" + stored, "HEADERS": headers}),
            "verify": self.script("floor_verify", {"METHOD": "GET", "PATH": "/verify", "EXPECT": 200, "BODY": "",
                "HEADERS": {"Authorization": "Bearer " + jwt}}),
            "resource": self.script("resource", {"METHOD": "GET", "PATH": "/resource", "EXPECT": 200, "BODY": "",
                "HEADERS": {"Authorization": "Bearer " + jwt}}),
        }

    def code_scenarios(self, target, server, s, c):
        """Mints codes through /authorize, then measures their redemption, then refresh
        rotation from the refresh tokens that redemption gave."""
        for f in os.listdir(self.work):
            if f.startswith(("codes_", "refresh_")):
                os.remove(os.path.join(self.work, f))
        # Minting runs longer than redemption: GET /authorize is the cheaper request.
        self.wrk(s["mint"], server.port, c, int(self.args.seconds * 1.5) + 1)
        server.peak()
        run = self.measure(target, "code", server, s["code"], c)
        if run["exhausted"]:
            log(f"  note: {run['exhausted']} redemptions found no minted code left (counted as errors)")
        self.measure(target, "refresh", server, s["refresh"], c)

    def round(self, targets, baseline, floor, connections):
        for c in connections:
            for name, server, s in targets:
                self.measure(name, "cc_jwt", server, s["cc_jwt"], c)
                if name == targets[0][0]:
                    self.measure("floor", "sign", baseline, floor["sign"], c)
                self.measure(name, "cc_opaque", server, s["cc_opaque"], c)
                if name == targets[0][0]:
                    self.measure("floor", "write", baseline, floor["write"], c)
                self.code_scenarios(name, server, s, c)
                self.measure(name, "introspect_jwt", server, s["introspect_jwt"], c)
                if name == targets[0][0]:
                    self.measure("floor", "read", baseline, floor["read"], c)
                self.measure(name, "introspect_opaque", server, s["introspect_opaque"], c)
                self.measure(name, "authorize", server, s["authorize"], c)
            self.measure("floor", "verify", baseline, floor["verify"], c, path="/verify")
            self.measure("latchkey-resource", "resource", baseline, floor["resource"], c, path="/resource")

    def logins_under_load(self, target, server, s):
        """Scenario 8: client_credentials at 64 connections while 16 connections log in."""
        reset_peak(server.proc.pid)
        login = subprocess.Popen(["wrk", "-t1", "-c16", f"-d{self.args.seconds}s", "--latency", "-s", s["login"],
                                  f"http://127.0.0.1:{server.port}/login"], stdout=subprocess.PIPE, text=True,
                                 cwd=self.work)
        run = self.measure(target, "cc_jwt_during_logins", server, s["cc_jwt"], 64)
        out = login.communicate()[0]
        line = next(l for l in out.splitlines() if l.startswith("RESULT "))
        r = json.loads(line[len("RESULT "):])
        logins = {"rps": r["requests"] / (r["duration_us"] / 1e6), "p99_ms": r["p99_us"] / 1000,
                  "errors": r["socket_errors"] + r["status_errors"] + r["bad"]}
        self.results.setdefault((target, "logins", 16), []).append(logins)
        log(f"  {target:10} logins             c=16  {logins['rps']:9.0f} req/s  errors {logins['errors']}")
        return run


def lua(v):
    if isinstance(v, dict):
        return "{" + ", ".join(f"[{lua(k)}] = {lua(x)}" for k, x in v.items()) + "}"
    if isinstance(v, int):
        return str(v)
    return json.dumps(str(v))  # a JSON string is a valid Lua string literal here (ASCII)


SCRIPTS = {
    "mint": "mint_codes.lua",
    "code": "redeem_codes.lua",
    "refresh": "rotate_refresh.lua",
}
for _k in ("cc_jwt", "cc_opaque", "introspect_jwt", "introspect_opaque", "authorize", "login", "sign", "write",
           "read", "verify", "resource"):
    SCRIPTS[_k] = "static.lua"


def basic_auth(client_id, secret):
    q = urllib.parse.quote  # RFC 6749 §2.3.1: form-encode, then Base64
    return base64.b64encode(f"{q(client_id, safe='')}:{q(secret, safe='')}".encode()).decode()


def token(port, basic):
    status, _, body = request(port, "POST", "/token", "grant_type=client_credentials&scope=profile",
                              {"Content-Type": FORM, "Authorization": "Basic " + basic})
    if status != 200:
        sys.exit(f"client_credentials failed: {status} {body!r}")
    return json.loads(body)["access_token"]


def field(page, name):
    import html
    import re
    return html.unescape(re.search(f'name="{name}" value="([^"]*)"', page).group(1))


def login_and_consent(port, client_id):
    """Logs the bench user in and consents once through the real pages; returns the cookie."""
    q = urllib.parse.urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
                                "scope": "profile", "state": "s", "code_challenge": CHALLENGE,
                                "code_challenge_method": "S256"})
    cookies = {}

    def go(method, path, body=None):
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        if body is not None:
            headers["Content-Type"] = FORM
        status, h, data = request(port, method, path, body, headers)
        for v in h.get_all("Set-Cookie") or []:
            k, val = v.split(";")[0].split("=", 1)
            cookies[k] = val
        return status, h.get("Location"), data.decode()

    _, _, page = go("GET", "/authorize?" + q)
    go("POST", "/login", urllib.parse.urlencode({"csrf": field(page, "csrf"), "return_to": field(page, "return_to"),
                                                 "username": "bench", "password": PASSWORD}))
    _, _, page = go("GET", "/authorize?" + q)
    status, loc, _ = go("POST", "/consent", urllib.parse.urlencode(
        {"csrf": field(page, "csrf"), "request": field(page, "request"), "decision": "allow"}))
    if status != 303 or "code=" not in (loc or ""):
        sys.exit(f"login and consent failed: {status} {loc}")
    return "latchkey_session=" + cookies["latchkey_session"]


def startup_ms(binary, env, port, runs=10):
    """Process start to the first answered /healthz, on an existing database."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=1)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                ok = s.recv(64).startswith(b"HTTP/1.1 200")
                s.close()
                if ok:
                    times.append((time.perf_counter() - t0) * 1000)
                    break
            except OSError:
                time.sleep(0.0005)
        p.terminate()
        p.wait()
    times.sort()
    return times


def add_history(db_path, clients, rows):
    """Writes `rows` token rows, half expired, straight into a stopped server's SQLite
    file: access tokens, refresh tokens of the bench clients, and records of redeemed codes."""
    con = sqlite3.connect(db_path)
    user = con.execute("SELECT id FROM users WHERE username = 'bench'").fetchone()[0]
    now = int(time.time())
    third = rows // 3
    cc, web = clients["opaque"]["client_id"], clients["web"]["client_id"]
    with con:
        con.execute(f"""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {third})
            INSERT INTO access_tokens (jti, token_hash, client_id, subject, scope, family_id, created_at, expires_at)
            SELECT hex(randomblob(16)), randomblob(32), ?, ?, 'profile', NULL,
                   ? - 7200, CASE WHEN i % 2 = 0 THEN ? - 3600 ELSE ? + 3600 END FROM n""", (cc, cc, now, now, now))
        con.execute(f"""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {third})
            INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, created_at,
                                        expires_at, rotated_at)
            SELECT randomblob(32), hex(randomblob(16)), ?, ?, 'profile', ? - 7200,
                   CASE WHEN i % 2 = 0 THEN ? - 3600 ELSE ? + 86400 END,
                   CASE WHEN i % 3 = 0 THEN ? - 3600 END FROM n""", (web, user, now, now, now, now))
        con.execute(f"""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows - 2 * third})
            INSERT INTO consumed_codes (code_hash, expires_at)
            SELECT randomblob(32), CASE WHEN i % 2 = 0 THEN ? - 3600 ELSE ? + 360 END FROM n""", (now, now))
    count = sum(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("access_tokens", "refresh_tokens", "consumed_codes"))
    con.close()
    return count


def median(runs, key):
    return statistics.median(r[key] for r in runs)


def report(bench, meta):
    R = bench.results
    lines = [f"# Latchkey benchmark, {meta['date']}", ""]
    lines += [f"Machine: {meta['machine']}. Command: `{meta['command']}`.",
              f"wrk on the same machine; {meta['rounds']} rounds of {meta['seconds']} s per figure, alternating "
              "targets; each figure is the median over the rounds. Errors are summed over the rounds (non-2xx/3xx, "
              "socket errors, and answers the script found wrong). CPU is the server's user + system time per "
              "request. Peak RSS is the server's high-water mark during that run.", ""]
    for backend in meta["backends"]:
        lines += [f"## {backend}", "",
                  "| scenario | conns | req/s | p50 ms | p99 ms | errors | CPU µs/req | peak RSS MiB | floor req/s "
                  "| ratio | target |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for key, (title, floor, share) in SCENARIOS.items():
            if key == "resource" and backend != meta["backends"][0]:
                continue  # the resource server does not use the store: shown once
            target = "latchkey-resource" if key == "resource" else backend
            for c in meta["connections"]:
                runs = R.get((target, key, c))
                if not runs:
                    continue
                floor_runs = R.get(("floor", floor, c))
                # The floors write and read SQLite: PostgreSQL figures get no ratio.
                floor_rps = median(floor_runs, "rps") if floor_runs and backend == "sqlite" else None
                rps = median(runs, "rps")
                ratio = f"{rps / floor_rps:.0%}" if floor_rps else "—"
                goal = ""
                if c == 64 and floor_rps:
                    ok = rps / floor_rps >= share and median(runs, "p99_ms") < 25
                    goal = f"≥{share:.0%}, p99<25 ms: {'met' if ok else 'MISSED'}"
                lines.append(
                    f"| {title} | {c} | {rps:,.0f} | {median(runs, 'p50_ms'):.2f} | {median(runs, 'p99_ms'):.2f} | "
                    f"{sum(r['errors'] for r in runs)} | {median(runs, 'cpu_us'):.0f} | "
                    f"{max(r['peak_kib'] for r in runs) / 1024:.1f} | "
                    f"{f'{floor_rps:,.0f}' if floor_rps else '—'} | {ratio} | {goal} |")
        solo = R.get((backend, "cc_jwt", 64))
        during = R.get((backend, "cc_jwt_during_logins", 64))
        logins = R.get((backend, "logins", 16))
        if solo and during and logins:
            share = median(during, "rps") / median(solo, "rps")
            # Refused logins put no hashing load on the server: such a run proves nothing.
            ok = share >= 0.5 and not any(r["errors"] for r in during + logins)
            lines += ["", f"**8. Token endpoint during logins** ({backend}): client_credentials at 64 connections "
                          f"answered {median(during, 'rps'):,.0f} req/s (p99 {median(during, 'p99_ms'):.2f} ms, "
                          f"errors {sum(r['errors'] for r in during)}) while 16 connections logged in at "
                          f"{median(logins, 'rps'):,.0f} logins/s (errors {sum(r['errors'] for r in logins)}): "
                          f"{share:.0%} of its solo rate, with no errors on either (target ≥50%: {'met' if ok else 'MISSED'})."]
        lines.append("")
    lines += ["## Floors (bench/baseline)", "", "| floor | conns | req/s | p50 ms | p99 ms | errors | CPU µs/req |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for key, title in FLOORS.items():
        for c in meta["connections"]:
            runs = R.get(("floor", key, c))
            if runs:
                lines.append(f"| {title} | {c} | {median(runs, 'rps'):,.0f} | {median(runs, 'p50_ms'):.2f} | "
                             f"{median(runs, 'p99_ms'):.2f} | {sum(r['errors'] for r in runs)} | "
                             f"{median(runs, 'cpu_us'):.0f} |")
    lines += ["", "## Memory and start-up", ""]
    for k, v in meta["memory"].items():
        lines.append(f"- {k}: {v}")
    lines += ["", "## What the servers logged (warn and error)", ""]
    for name, warnings in meta["logs"].items():
        kinds = {}
        for w in warnings:
            text = ANSI.sub("", w).split(": ", 1)[-1][:160]
            kinds[text] = kinds.get(text, 0) + 1
        lines.append(f"- {name}: {len(warnings)} lines" + ("" if warnings else " (none)"))
        lines += [f"  - {n} × `{t}`" for t, n in sorted(kinds.items(), key=lambda kv: -kv[1])[:5]]
    if meta.get("history"):
        h = meta["history"]
        lines += ["", f"## Cost with history ({h['rows']:,} token rows, half expired, SQLite)", "",
                  "| scenario | empty store req/s | with history req/s | change | target (within 10%) |",
                  "|---|---:|---:|---:|---|"]
        for key in ("cc_jwt", "cc_opaque", "code", "refresh"):
            empty, full = R.get(("empty", key, 64)), R.get(("history", key, 64))
            if empty and full:
                a, b = median(empty, "rps"), median(full, "rps")
                lines.append(f"| {SCENARIOS[key][0]} | {a:,.0f} | {b:,.0f} | {b / a - 1:+.1%} | "
                             f"{'met' if b >= 0.9 * a else 'MISSED'} |")
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", default=os.path.join(ROOT, "target", "release"), help="directory of the binaries")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=5, help="length of each measured run")
    p.add_argument("--connections", default="1,16,64")
    p.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432",
                   help="PostgreSQL server URL; 'off' to skip that backend")
    p.add_argument("--history-rows", type=int, default=1_000_000, help="0 skips the history comparison")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    args = p.parse_args()
    connections = [int(c) for c in args.connections.split(",")]
    work = tempfile.mkdtemp(prefix="latchkey-bench-")
    bench = Bench(args, work)
    servers, pg_db = [], None
    memory = {}
    try:
        log(f"work directory {work}")
        sqlite_server, sqlite_env, sqlite_clients = bench.start_latchkey("sqlite", f"sqlite://{work}/bench.db", 19400)
        servers.append(sqlite_server)
        time.sleep(1)
        memory["idle RSS after start (SQLite)"] = f"{rss_kib(sqlite_server.proc.pid) / 1024:.1f} MiB (target < 20 MiB)"
        targets = [("sqlite", sqlite_server, bench.scripts_for(sqlite_server, sqlite_clients))]
        if args.postgres != "off":
            pg_db = f"latchkey_bench_{os.getpid()}"
            psql(args.postgres, f"CREATE DATABASE {pg_db}")
            pg_server, _, pg_clients = bench.start_latchkey("postgres", f"{args.postgres}/{pg_db}", 19410)
            servers.append(pg_server)
            targets.append(("postgres", pg_server, bench.scripts_for(pg_server, pg_clients)))
        benv = dict(os.environ, BASELINE_BIND="127.0.0.1:19450", BASELINE_DB=f"{work}/baseline.db",
                    BASELINE_CLIENT_ID=sqlite_clients["cc"]["client_id"],
                    BASELINE_CLIENT_SECRET=sqlite_clients["cc"]["client_secret"],
                    BASELINE_ISSUER="http://127.0.0.1:19400")
        baseline = Server("baseline", [bench.baseline_bin], benv, 19450, os.path.join(work, "baseline.log"))
        servers.append(baseline)
        floor = bench.baseline_scripts(baseline, targets[0][2]["jwt"],
                                       (sqlite_clients["cc"]["client_id"], sqlite_clients["cc"]["client_secret"]))
        # Warm-up: one short run of each kind, not recorded.
        for _, server, s in targets:
            bench.wrk(s["cc_jwt"], server.port, 64, 2)
        bench.wrk(floor["sign"], baseline.port, 64, 2)
        for r in range(args.rounds):
            log(f"round {r + 1}/{args.rounds}")
            bench.round(targets, baseline, floor, connections)
            for name, server, s in targets:
                bench.logins_under_load(name, server, s)
        for name, server, _ in targets:
            memory[f"peak RSS during the benchmark ({name})"] = f"{server.peak() / 1024:.1f} MiB (target < 64 MiB)"
        # Start-up on the existing SQLite database, with this run's history in it.
        sqlite_server.stop()
        servers.remove(sqlite_server)
        times = startup_ms(bench.bin, sqlite_env, 19400)
        memory["start-up to first answered /healthz (SQLite, existing database, 10 runs)"] = (
            f"median {times[len(times) // 2]:.1f} ms, min {times[0]:.1f} ms, max {times[-1]:.1f} ms "
            "(target < 50 ms)")
        history = None
        if args.history_rows:
            history = run_history(bench, args, work, servers)
        for s in servers:
            s.stop()
        logs = {s.name: s.warnings for s in [sqlite_server, *servers]}
        servers.clear()
        meta = {
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "machine": machine(),
            "command": "bench/run.sh " + " ".join(sys.argv[1:]),
            "rounds": args.rounds, "seconds": args.seconds, "connections": connections,
            "backends": [t[0] for t in targets], "memory": memory, "history": history, "logs": logs,
        }
        text = report(bench, meta)
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, datetime.datetime.now().strftime("%Y-%m-%d-%H%M") + ".md")
        with open(path, "w") as f:
            f.write(text)
        with open(os.path.join(args.out, "latest.md"), "w") as f:
            f.write(text)
        print(text)
        log(f"written to {path}")
    finally:
        for s in servers:
            s.stop()
        if pg_db:
            psql(args.postgres, f"DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)")
        if os.environ.get("BENCH_KEEP"):
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def run_history(bench, args, work, servers):
    """Scenarios 1-4 at 64 connections on an empty store and on one with history,
    alternating, on two fresh SQLite servers."""
    log(f"history: writing {args.history_rows:,} rows")
    empty, _, empty_clients = bench.start_latchkey("empty", f"sqlite://{work}/empty.db", 19420)
    servers.append(empty)
    env = bench.latchkey_env(f"sqlite://{work}/history.db", 19430, 19431)
    bench.cli(env, "migrate")
    clients = bench.provision(env)
    rows = add_history(f"{work}/history.db", clients, args.history_rows)
    full = Server("history", [bench.bin, "serve"], env, 19430, os.path.join(work, "history.log"))
    servers.append(full)
    pairs = [("empty", empty, bench.scripts_for(empty, empty_clients)),
             ("history", full, bench.scripts_for(full, clients))]
    for r in range(args.rounds):
        log(f"history round {r + 1}/{args.rounds}")
        for name, server, s in (pairs if r % 2 == 0 else pairs[::-1]):
            bench.measure(name, "cc_jwt", server, s["cc_jwt"], 64)
            bench.measure(name, "cc_opaque", server, s["cc_opaque"], 64)
            bench.code_scenarios(name, server, s, 64)
    return {"rows": rows}


def psql(url, sql):
    subprocess.run(["psql", "-q", f"{url}/postgres", "-c", sql], check=True, capture_output=True)


def machine():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, {platform.system()} {platform.release()}"


if __name__ == "__main__":
    main()
