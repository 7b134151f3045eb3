#!/usr/bin/env python3
"""Loads blogd's docs pages in headless Chromium, driven over the DevTools protocol, and fails
unless each page rendered every operation and broke no Content-Security-Policy rule.

Usage: docs-browser.py BASE_URL EXPECTED_OPERATIONS WORK_DIR

Why the DevTools protocol, and why over a pipe: Chromium's own log (stderr) is not a reliable
place to find CSP violations (whether console messages go there depends on flags and builds, and
an empty log looks the same as a blind detector). Over the protocol the page's console messages
arrive as events (Log.entryAdded, where Chromium reports "Refused to …" CSP messages), and a
`securitypolicyviolation` listener installed before any page script records each violation the
page itself sees. --remote-debugging-pipe (fd 3 in, fd 4 out, NUL-terminated JSON) needs no
WebSocket library and no port.

A detector that sees nothing proves nothing, so each page gets a positive control in the same
run: after the page's own check, an inline <script> is added to it; the page's CSP (script-src
'self') must block it, and BOTH channels must report that violation, or the gate fails.

Standard library only (the CI machine has Python 3.11 and nothing else from PyPI here).
"""
import json
import os
import subprocess
import sys
import threading
import time

BASE, EXPECTED, WORK = sys.argv[1], int(sys.argv[2]), sys.argv[3]

# What counts as rendered: every operation of the OpenAPI document is on the page.
PAGES = [
    ("swagger", "/api/docs/", "document.querySelectorAll('.opblock').length"),
    ("redoc", "/api/redoc/", "document.querySelectorAll('[data-section-id^=\"operation/\"]').length"),
]
RENDER_TIMEOUT = 90  # seconds; a debug build on a busy 2-core machine serves the bundles slowly

# Installed before any script of the page runs (CDP-injected code is not subject to the page's
# CSP). Capture phase on the document sees violations of elements and of the document itself.
LISTENER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || '?') +
    ' at ' + (e.sourceFile || '?') + ':' + e.lineNumber);
}, true);
"""


class Browser:
    def __init__(self, profile):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def fds():  # in the child: fd 3 is what Chromium reads, fd 4 what it writes
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--no-first-run",
             "--disable-sync", "--disable-quic", "--disable-extensions",
             # The local CA is not in Chromium's store; this check is about rendering, not trust.
             "--ignore-certificate-errors",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=open(f"{WORK}/chromium.out", "ab"),
            stderr=subprocess.STDOUT, preexec_fn=fds, pass_fds=(3, 4))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.next_id = 0
        self.lock = threading.Condition()
        self.replies = {}
        self.events = []  # (session_id, method, params), in arrival order
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buf = b""
        while True:
            chunk = os.read(self.from_chrome, 1 << 16)
            if not chunk:
                with self.lock:
                    self.replies[None] = "closed"
                    self.lock.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self.lock:
                    if "id" in msg:
                        self.replies[msg["id"]] = msg
                    else:
                        self.events.append((msg.get("sessionId"), msg["method"], msg.get("params", {})))
                    self.lock.notify_all()

    def send(self, method, params=None, session=None, timeout=30):
        with self.lock:
            self.next_id += 1
            mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self.lock:
            while mid not in self.replies:
                if None in self.replies:
                    raise RuntimeError(f"Chromium went away during {method}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"no answer to {method} within {timeout} s")
                self.lock.wait(left)
            reply = self.replies.pop(mid)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def evaluate(self, session, expression):
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        if "exceptionDetails" in r:
            raise RuntimeError(f"evaluating {expression!r}: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")

    def events_since(self, start, sessions):
        with self.lock:
            return [e for e in self.events[start:] if e[0] in sessions]

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def csp_messages(events):
    """CSP violation messages among Log.entryAdded events (Chromium: "Refused to … because it
    violates the following Content Security Policy directive …")."""
    out = []
    for _, method, p in events:
        if method == "Log.entryAdded":
            text = p["entry"].get("text", "")
            if "Content Security Policy" in text or "Content-Security-Policy" in text:
                out.append(text)
    return out


def check_page(browser, name, path, count_js):
    fails = []
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    sessions = {session}
    start = len(browser.events)
    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.send(f"{domain}.enable", session=session)
    browser.send("Page.addScriptToEvaluateOnNewDocument", {"source": LISTENER}, session)
    # Workers (ReDoc searches in one) log to their own target: attach to them too.
    browser.send("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": False,
                                           "flatten": True}, session)
    nav = browser.send("Page.navigate", {"url": BASE + path}, session)
    if nav.get("errorText"):
        return [f"{name}: {path} did not load: {nav['errorText']}"]

    deadline = time.monotonic() + RENDER_TIMEOUT
    rendered = 0
    while time.monotonic() < deadline:
        for sid, method, p in browser.events_since(start, sessions | {None, session}):
            if method == "Target.attachedToTarget" and p["sessionId"] not in sessions:
                sessions.add(p["sessionId"])
                for domain in ("Runtime", "Log"):
                    try:
                        browser.send(f"{domain}.enable", session=p["sessionId"], timeout=5)
                    except RuntimeError:
                        pass  # a worker that already ended
        rendered = browser.evaluate(session, count_js) or 0
        if rendered >= EXPECTED:
            break
        time.sleep(0.5)
    time.sleep(1.0)  # late resources and their violations
    rendered = browser.evaluate(session, count_js) or 0
    text = browser.evaluate(session, "document.body ? document.body.innerText : ''") or ""
    print(f"{name}: {rendered} of {EXPECTED} operations rendered, {len(text)} characters of text")
    if rendered != EXPECTED:
        fails.append(f"{name}: {rendered} operations rendered, expected {EXPECTED} (blank or broken page)")
    if "/api/v1/posts" not in text:
        fails.append(f"{name}: the page does not show /api/v1/posts")

    events = browser.events_since(start, sessions)
    logged = csp_messages(events)
    seen = browser.evaluate(session, "window.__cspViolations ? window.__cspViolations.slice() : null")
    if seen is None:
        fails.append(f"{name}: the violation listener was not installed")
        seen = []
    for v in seen:
        fails.append(f"{name}: CSP violation (event): {v}")
    for m in logged:
        fails.append(f"{name}: CSP violation (console): {m}")
    for _, method, p in events:
        if method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            desc = (d.get("exception") or {}).get("description") or d.get("text")
            fails.append(f"{name}: uncaught script error: {desc}")
        elif method == "Network.loadingFailed" and not p.get("canceled"):
            fails.append(f"{name}: a request failed: {p.get('errorText')} {p.get('blockedReason', '')}")

    # Positive control: an inline script, which script-src 'self' forbids, must be blocked and
    # reported on both channels; otherwise the empty lists above prove nothing.
    before_events, before_seen = len(browser.events), len(seen)
    browser.evaluate(session, "var s = document.createElement('script');"
                              "s.textContent = 'window.__controlRan = true';"
                              "document.body.appendChild(s); true")
    got_event = got_log = False
    for _ in range(50):
        time.sleep(0.1)
        got_event = (browser.evaluate(session, "window.__cspViolations.length") or 0) > before_seen
        got_log = any("inline script" in m for m in
                      csp_messages(browser.events_since(before_events, sessions)))
        if got_event and got_log:
            break
    ran = browser.evaluate(session, "window.__controlRan === true")
    if ran:
        fails.append(f"{name}: control: an inline script ran, so the page has no CSP against it")
    if not got_event:
        fails.append(f"{name}: control: the securitypolicyviolation listener did not see the planted violation")
    if not got_log:
        fails.append(f"{name}: control: no console message for the planted violation (the detector is blind)")
    if got_event and got_log and not ran:
        print(f"{name}: control: a planted inline script was blocked and reported on both channels")
    print(f"{name}: {len(seen)} CSP violations (event), {len(logged)} (console)")
    browser.send("Target.closeTarget", {"targetId": target})
    return fails


def main():
    browser = Browser(f"{WORK}/chromium-profile")
    fails = []
    try:
        for name, path, count_js in PAGES:
            fails += check_page(browser, name, path, count_js)
    except RuntimeError as e:
        fails.append(f"browser: {e}")
    finally:
        browser.close()
    for f in fails:
        print(f"FAIL: {f}")
    if fails:
        sys.exit(1)


main()
