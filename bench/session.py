"""Logs the bench user in and consents once for a client; prints the session cookie.

Usage: python3 session.py PORT CLIENT_ID  (user `bench` or `soak`, password password123)
"""
import http.client, re, sys, urllib.parse, html
port, cid = int(sys.argv[1]), sys.argv[2]
q = urllib.parse.urlencode({"response_type": "code", "client_id": cid, "redirect_uri": "https://app.example/cb", "scope": "profile",
    "state": "s", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"})
cookies = {}
def req(method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port)
    h = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    if body is not None:
        h["Content-Type"] = "application/x-www-form-urlencoded"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    for k, v in r.getheaders():
        if k.lower() == "set-cookie":
            name, val = v.split(";")[0].split("=", 1)
            cookies[name] = val
    return r.status, r.getheader("location"), r.read().decode()
def field(page, name):
    return html.unescape(re.search(f'name="{name}" value="([^"]*)"', page).group(1))
_, _, page = req("GET", "/authorize?" + q)
req("POST", "/login", urllib.parse.urlencode({"csrf": field(page, "csrf"), "return_to": field(page, "return_to"), "username": sys.argv[3] if len(sys.argv) > 3 else "bench", "password": "password123"}))
_, _, page = req("GET", "/authorize?" + q)
status, loc, _ = req("POST", "/consent", urllib.parse.urlencode({"csrf": field(page, "csrf"), "request": field(page, "request"), "decision": "allow"}))
assert status == 303 and "code=" in loc, (status, loc)
print("latchkey_session=" + cookies["latchkey_session"])
