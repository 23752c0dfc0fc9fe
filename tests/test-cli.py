#!/usr/bin/python3
"""The smtp-doctor-cli contract (../shared/DESIGN.md, the engine spec), without a real MTA.

Every server here is a small Python socket server on 127.0.0.1 started by the test itself.
Prints TAP. Environment: DOCTOR_CLI (the binary), DOCTOR_TEST_CERTS, G_TEST_SRCDIR.
"""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import traceback

CLI = os.environ.get("DOCTOR_CLI", "")
CLI_TIMEOUT = 60  # seconds, for each run of the binary

REASONS = set("""
invalid-input dns-not-found dns-temporary-failure connection-refused connection-timeout
host-unreachable network-unreachable connection-filtered greeting-timeout greeting-rejected
server-busy security-mismatch protocol-error line-too-long connection-closed ehlo-rejected
starttls-not-offered starttls-rejected starttls-injection tls-handshake-failed
tls-protocol-outdated certificate-untrusted certificate-expired certificate-not-yet-valid
certificate-hostname-mismatch certificate-revoked certificate-insecure certificate-expires-soon
auth-not-offered auth-mechanism-unsupported auth-failed auth-app-password-required
auth-basic-disabled auth-requires-tls auth-temporary-failure auth-skipped-untrusted
auth-plaintext-refused sender-rejected recipient-rejected relay-denied message-rejected
not-reached cancelled
not-applicable not-requested reply-timeout bare-lf auth-unencrypted ipv6-broken ipv4-broken certificate-intercepted
""".split())

CHECK_ORDER = {
    "starttls": ["dns", "connect", "greeting", "ehlo", "starttls", "tls", "certificate",
                 "auth", "send"],
    "tls": ["dns", "connect", "tls", "certificate", "greeting", "ehlo", "starttls", "auth",
            "send"],
    "none": ["dns", "connect", "greeting", "ehlo", "starttls", "tls", "certificate", "auth",
             "send"],
}

SECRET = "Cli-Test-S3cret!"


# --------------------------------------------------------------------------------------------
# A tiny TAP harness


class Failure(AssertionError):
    pass


TESTS = []
CLEANUPS = []


def test(fn):
    TESTS.append(fn)
    return fn


def check(cond, message, run=None):
    if not cond:
        if run is not None:
            message += "\n" + run.describe()
        raise Failure(message)


def diag(text):
    for line in str(text).splitlines() or [""]:
        print("# " + line)


def main():
    print("1..%d" % len(TESTS), flush=True)
    failed = 0
    for n, fn in enumerate(TESTS, 1):
        name = (fn.__doc__ or fn.__name__).strip().splitlines()[0]
        try:
            if not CLI or not os.access(CLI, os.X_OK):
                raise Failure("DOCTOR_CLI is not an executable: %r" % CLI)
            fn()
        except Exception as e:
            failed += 1
            print("not ok %d - %s" % (n, name))
            if isinstance(e, Failure):
                diag(str(e))
            else:
                diag(traceback.format_exc())
        else:
            print("ok %d - %s" % (n, name))
        finally:
            while CLEANUPS:
                try:
                    CLEANUPS.pop()()
                except Exception:
                    diag("cleanup: " + traceback.format_exc())
        sys.stdout.flush()
    sys.exit(1 if failed else 0)


# --------------------------------------------------------------------------------------------
# Running the binary


class Run:
    def __init__(self, args, rc, out, err, elapsed):
        self.args = args
        self.rc = rc
        self.out = out
        self.err = err
        self.elapsed = elapsed
        self._report = None

    @property
    def report(self):
        if self._report is None:
            try:
                self._report = json.loads(self.out)
            except ValueError as e:
                raise Failure("stdout is not JSON (%s)\n%s" % (e, self.describe()))
        return self._report

    def check_by_id(self, cid):
        for c in self.report["checks"]:
            if c.get("id") == cid:
                return c
        raise Failure("no check %r in the report\n%s" % (cid, self.describe()))

    def describe(self):
        def cut(s):
            return s if len(s) < 4000 else s[:4000] + "\n[... cut ...]"
        return "command: %s\nexit status: %s (%.2f s)\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(repr(a) if (" " in a or not a.isprintable()) else a for a in self.args),
            self.rc, self.elapsed, cut(self.out), cut(self.err))


def run_cli(*args, stdin_text=None, env=None, drop_env=(), timeout=CLI_TIMEOUT):
    full_env = dict(os.environ)
    for k in drop_env:
        full_env.pop(k, None)
    if env:
        full_env.update(env)
    argv = [CLI] + list(args)
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, input=stdin_text if stdin_text is not None else "",
                           capture_output=True, text=True, env=full_env, timeout=timeout,
                           errors="replace")
    except subprocess.TimeoutExpired as e:
        raise Failure("timed out after %s s: %s\nstdout so far:\n%s\nstderr so far:\n%s" % (
            timeout, " ".join(argv), e.stdout, e.stderr))
    return Run(argv, p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


def validate_report(run, security):
    """Checks the JSON report against the version 1 contract."""
    r = run.report
    check(isinstance(r, dict), "report is not an object", run)
    check(r.get("version") == 1, "version is not 1", run)
    t = r.get("target")
    check(isinstance(t, dict), "target is not an object", run)
    for k in ("host", "port", "security", "user"):
        check(k in t, "target has no %r" % k, run)
    check(isinstance(t["host"], str), "target.host not a string", run)
    check(isinstance(t["port"], int) and not isinstance(t["port"], bool),
          "target.port not an integer", run)
    check(t["security"] == security, "target.security %r, expected %r" % (t["security"],
                                                                         security), run)
    check(t["user"] is None or isinstance(t["user"], str), "target.user", run)
    check(r.get("verdict") in ("pass", "warn", "fail"), "verdict %r" % r.get("verdict"), run)
    checks = r.get("checks")
    check(isinstance(checks, list), "checks is not a list", run)
    ids = [c.get("id") for c in checks]
    check(ids == CHECK_ORDER[security], "check ids %r, expected %r" % (ids,
                                                                       CHECK_ORDER[security]),
          run)
    seen_fail = False
    statuses = []
    for c in checks:
        cid = c["id"]
        for k in ("id", "title", "status", "reason", "summary", "duration_ms", "details",
                  "advice"):
            check(k in c, "check %s has no field %r" % (cid, k), run)
        check(isinstance(c["title"], str) and c["title"], "check %s: title" % cid, run)
        check(isinstance(c["summary"], str), "check %s: summary" % cid, run)
        st = c["status"]
        statuses.append(st)
        check(st in ("pass", "warn", "fail", "skipped"), "check %s: status %r" % (cid, st), run)
        reason = c["reason"]
        check(reason is None or (isinstance(reason, str) and reason in REASONS),
              "check %s: reason %r is not a known code" % (cid, reason), run)
        if st in ("fail", "warn", "skipped"):
            check(reason is not None, "check %s is %s without a reason" % (cid, st), run)
        check(isinstance(c["duration_ms"], int) and not isinstance(c["duration_ms"], bool)
              and c["duration_ms"] >= 0, "check %s: duration_ms %r" % (cid, c["duration_ms"]),
              run)
        d = c["details"]
        check(isinstance(d, dict), "check %s: details not an object" % cid, run)
        for k, v in d.items():
            ok = isinstance(v, str) or (isinstance(v, list) and
                                        all(isinstance(x, str) for x in v))
            check(ok, "check %s: details[%r] is neither a string nor a list of strings" %
                  (cid, k), run)
        a = c["advice"]
        check(isinstance(a, list), "check %s: advice not a list" % cid, run)
        for item in a:
            check(isinstance(item, dict) and isinstance(item.get("title"), str)
                  and isinstance(item.get("text"), str)
                  and isinstance(item.get("commands"), list)
                  and all(isinstance(x, str) for x in item["commands"]),
                  "check %s: advice item %r" % (cid, item), run)
        if seen_fail:
            check(st == "skipped", "check %s is %s after a failed check" % (cid, st), run)
        if st == "fail":
            seen_fail = True
    s = r.get("suggestion", "missing")
    check(s is None or (isinstance(s, dict) and all(k in s for k in
                                                    ("host", "port", "security", "summary"))),
          "suggestion %r" % (s,), run)
    check(isinstance(r.get("ports"), list), "ports is not a list", run)
    tr = r.get("transcript")
    check(isinstance(tr, list), "transcript is not a list", run)
    for line in tr:
        check(isinstance(line, dict) and line.get("from") in ("client", "server")
              and isinstance(line.get("tls"), bool) and isinstance(line.get("text"), str),
              "transcript line %r" % (line,), run)
    # verdict and exit status follow the statuses
    if "fail" in statuses:
        verdict, rc = "fail", 2
    elif "warn" in statuses:
        verdict, rc = "warn", 1
    else:
        verdict, rc = "pass", 0
    check(r["verdict"] == verdict, "verdict %r, the statuses say %r" % (r["verdict"], verdict),
          run)
    check(run.rc == rc, "exit status %r, the verdict says %r" % (run.rc, rc), run)
    return r


def expect_check(run, cid, status, reasons):
    c = run.check_by_id(cid)
    if isinstance(reasons, str) or reasons is None:
        reasons = (reasons,)
    check(c["status"] == status and c["reason"] in reasons,
          "check %s: expected %s/%s, got %s/%s (%s)" % (cid, status, "|".join(map(str, reasons)),
                                                      c["status"], c["reason"], c["summary"]),
          run)
    return c


def expect_usage_error(run, what):
    check(run.rc == 3, "%s: expected exit status 3 (usage error)" % what, run)
    check(run.err.strip() != "", "%s: nothing on stderr to explain the usage error" % what, run)


# --------------------------------------------------------------------------------------------
# Small servers


class Server:
    """A threaded TCP server on 127.0.0.1; handler(conn, server) runs for each connection."""

    def __init__(self, handler=None):
        self.handler = handler
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.received = []  # lines from all connections
        self.conns = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = []
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()
        CLEANUPS.append(self.stop)

    def _accept_loop(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            with self.lock:
                self.connections += 1
                self.conns.append(conn)
            if self.handler:
                t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
                self.threads.append(t)
                t.start()

    def _serve(self, conn):
        try:
            conn.settimeout(10)
            self.handler(conn, self)
        except OSError:
            pass

    def readline(self, conn, buf):
        """Reads one line (bytes, without CRLF) from conn; buf is a bytearray kept per
        connection. Returns None at EOF."""
        while b"\n" not in buf:
            if self.stopping.is_set():
                return None
            try:
                data = conn.recv(4096)
            except socket.timeout:
                return None
            if not data:
                return None
            buf.extend(data)
        i = buf.index(b"\n")
        line = bytes(buf[:i]).rstrip(b"\r")
        del buf[:i + 1]
        with self.lock:
            self.received.append(line)
        return line

    def stop(self):
        self.stopping.set()
        try:
            self.sock.close()
        except OSError:
            pass
        self.thread.join(5)
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass
        for t in self.threads:
            t.join(5)


def closed_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def starttls_refusing_handler(conn, server):
    buf = bytearray()
    conn.sendall(b"220 hi\r\n")
    while True:
        line = server.readline(conn, buf)
        if line is None:
            return
        verb = line.split(b" ", 1)[0].upper()
        if verb == b"EHLO":
            conn.sendall(b"250-x\r\n250 STARTTLS\r\n")
        elif verb == b"HELO":
            conn.sendall(b"250 x\r\n")
        elif verb == b"STARTTLS":
            conn.sendall(b"454 4.7.0 TLS not available\r\n")
        elif verb == b"QUIT":
            conn.sendall(b"221 bye\r\n")
            return
        else:
            conn.sendall(b"503 5.5.1 not now\r\n")


def silent_handler(conn, server):
    # Accept and say nothing until the test ends (or the client goes away).
    while not server.stopping.is_set():
        try:
            data = conn.recv(4096)
        except socket.timeout:
            continue
        if not data:
            return


# --------------------------------------------------------------------------------------------
# The tests


@test
def t_version():
    """--version exits 0 and prints a version"""
    r = run_cli("--version")
    check(r.rc == 0, "--version: expected exit status 0", r)
    check(re.search(r"\d+\.\d+", r.out), "--version printed no version number", r)


@test
def t_unknown_option():
    """an unknown option is a usage error (exit 3)"""
    expect_usage_error(run_cli("--no-such-option", "127.0.0.1"), "unknown option")


@test
def t_missing_host():
    """no host is a usage error (exit 3)"""
    expect_usage_error(run_cli(), "no host")
    expect_usage_error(run_cli("--json"), "no host, --json")


@test
def t_bad_port():
    """a bad port (host:99999, --port=abc, host:abc) is a usage error (exit 3)"""
    expect_usage_error(run_cli("127.0.0.1:99999"), "host:99999")
    expect_usage_error(run_cli("--port=abc", "127.0.0.1"), "--port=abc")
    expect_usage_error(run_cli("--port=99999", "127.0.0.1"), "--port=99999")
    expect_usage_error(run_cli("127.0.0.1:abc"), "host:abc")


@test
def t_bad_security():
    """--security=bogus is a usage error (exit 3)"""
    expect_usage_error(run_cli("--security=bogus", "127.0.0.1"), "--security=bogus")
    expect_usage_error(run_cli("-s", "ssl3", "127.0.0.1"), "-s ssl3")


@test
def t_from_without_to():
    """--from without --to (and --to without --from) is a usage error (exit 3)"""
    expect_usage_error(run_cli("--from=me@example.org", "127.0.0.1"), "--from without --to")
    expect_usage_error(run_cli("--to=you@example.org", "127.0.0.1"), "--to without --from")


@test
def t_user_without_password_source():
    """--user without a password source, not on a terminal, is a usage error (exit 3)"""
    srv = Server(silent_handler)
    r = run_cli("-u", "me", "127.0.0.1:%d" % srv.port)
    expect_usage_error(r, "--user without --password-stdin/--password-env")
    time.sleep(0.3)
    check(srv.connections == 0, "a connection was made despite the usage error", r)


@test
def t_user_with_cr():
    """a user name with a CR is refused (exit 3) with a clear message, before any connection"""
    srv = Server(silent_handler)
    r = run_cli("-u", "me\rRSET", "--password-env=DOCTOR_TEST_SECRET", "--timeout=2",
                "127.0.0.1:%d" % srv.port, env={"DOCTOR_TEST_SECRET": SECRET})
    expect_usage_error(r, "user name with CR")
    check(re.search(r"user|CR|carriage|control|line break|newline", r.err, re.I),
          "the message does not say what is wrong with the user name", r)
    time.sleep(0.3)
    check(srv.connections == 0, "a connection was made for a user name with a CR", r)
    check(SECRET not in r.out + r.err, "the secret was printed", r)


@test
def t_helo_and_address_with_lf():
    """an EHLO name or address with a LF is refused before any connection"""
    srv = Server(silent_handler)
    for args in (["--helo=a\nb"], ["--from=a@example.org\nRCPT TO:<x@y>", "--to=b@example.org"]):
        r = run_cli(*args, "--timeout=2", "127.0.0.1:%d" % srv.port)
        check(r.rc in (2, 3), "expected exit status 3 (or 2 with invalid-input)", r)
        if r.rc == 3:
            check(r.err.strip() != "", "nothing on stderr to explain the usage error", r)
        time.sleep(0.3)
        check(srv.connections == 0, "a connection was made despite a LF in %r" % args, r)


@test
def t_connection_refused():
    """a closed port on 127.0.0.1: exit 2, connect fails with connection-refused"""
    port = closed_port()
    r = run_cli("--json", "--timeout=5", "-s", "starttls", "127.0.0.1:%d" % port)
    validate_report(r, "starttls")
    check(r.rc == 2, "expected exit status 2", r)
    expect_check(r, "dns", "pass", None)
    c = expect_check(r, "connect", "fail", "connection-refused")
    facts = json.dumps(r.check_by_id("dns")["details"]) + json.dumps(c["details"])
    check("127.0.0.1" in facts, "the address 127.0.0.1 is not in the dns/connect details", r)
    t = r.report["target"]
    check(t["host"] == "127.0.0.1" and t["port"] == port, "target %r" % (t,), r)
    for cid in ("greeting", "ehlo", "starttls", "tls", "certificate", "auth", "send"):
        expect_check(r, cid, "skipped", ("not-reached", "not-requested", "not-applicable"))


@test
def t_network_named():
    """the network as this computer sees it is in the JSON; a captive portal is said in the text"""
    port = closed_port()
    r = run_cli("--json", "--timeout=2", "127.0.0.1:%d" % port,
                env={"DOCTOR_TEST_CONNECTIVITY": "portal"})
    net = r.report.get("network")
    check(isinstance(net, dict) and net.get("state") == "portal" and net.get("note"),
          "network %r" % (net,), r)
    check(net.get("firewall") in ("ufw", "firewalld", "nftables", "iptables", "none"),
          "firewall %r" % (net.get("firewall"),), r)
    r = run_cli("--timeout=2", "127.0.0.1:%d" % port, env={"DOCTOR_TEST_CONNECTIVITY": "portal"})
    check("portal" in r.out, "the portal is not named in the text output", r)


@test
def t_dns_not_found():
    """an unknown host (no-such-host.invalid): exit 2, dns fails with dns-not-found"""
    r = run_cli("--json", "--timeout=5", "no-such-host.invalid")
    validate_report(r, "starttls")
    check(r.rc == 2, "expected exit status 2", r)
    expect_check(r, "dns", "fail", "dns-not-found")
    check(r.report["target"]["host"] == "no-such-host.invalid", "target.host", r)
    for cid in CHECK_ORDER["starttls"][1:]:
        expect_check(r, cid, "skipped", ("not-reached", "not-requested", "not-applicable"))


@test
def t_json_check_order_per_mode():
    """--json: version 1, target, checks in the order of each security mode with all fields"""
    port = closed_port()
    for mode in ("starttls", "tls", "none"):
        r = run_cli("--json", "--timeout=5", "-s", mode, "-p", str(port), "127.0.0.1")
        rep = validate_report(r, mode)
        check(rep["target"]["port"] == port, "target.port %r, expected %d" %
              (rep["target"]["port"], port), r)
        check(rep["target"]["user"] is None, "target.user should be null without --user", r)
        expect_check(r, "connect", "fail", "connection-refused")


@test
def t_default_port_and_security():
    """default port from the security mode, default security from the port"""
    cases = [
        ([], "starttls", 587),
        (["-s", "tls"], "tls", 465),
        (["--security=none"], "none", 25),
        (["--security=starttls"], "starttls", 587),
    ]
    for args, sec, port in cases:
        r = run_cli("--json", *args, "no-such-host.invalid")
        rep = validate_report(r, sec)
        check(rep["target"]["port"] == port, "%r: target.port %r, expected %d" %
              (args, rep["target"]["port"], port), r)
    r = run_cli("--json", "no-such-host.invalid:465")
    rep = validate_report(r, "tls")
    check(rep["target"]["port"] == 465, "host:465 -> port 465", r)
    r = run_cli("--json", "--port=465", "no-such-host.invalid")
    validate_report(r, "tls")
    r = run_cli("--json", "-u", "someone@example.org", "--password-env=DOCTOR_TEST_SECRET",
                "no-such-host.invalid", env={"DOCTOR_TEST_SECRET": SECRET})
    rep = validate_report(r, "starttls")
    check(rep["target"]["user"] == "someone@example.org", "target.user", r)
    check(SECRET not in r.out + r.err, "the secret was printed", r)


@test
def t_text_output_piped():
    """text output, piped: one line per check, a verdict line, no ANSI escapes"""
    port = closed_port()
    target = "127.0.0.1:%d" % port
    j = run_cli("--json", "--timeout=5", "-s", "starttls", target)
    validate_report(j, "starttls")
    # Colour must be off because stdout is a pipe, not because of NO_COLOR.
    r = run_cli("--timeout=5", "-s", "starttls", target, drop_env=("NO_COLOR",),
                env={"TERM": "xterm-256color", "COLORTERM": "truecolor"})
    check(r.rc == 2, "expected exit status 2 as with --json", r)
    check("\x1b" not in r.out and "\x1b" not in r.err, "ANSI escape in piped output", r)
    check(not r.out.lstrip().startswith("{"), "text output looks like JSON", r)
    lines = r.out.splitlines()
    pos = -1
    for c in j.report["checks"]:
        found = None
        for i in range(pos + 1, len(lines)):
            if (c["title"] and c["title"] in lines[i]) or (c["summary"] and
                                                            c["summary"] in lines[i]):
                found = i
                break
        check(found is not None, "no line (in order) for check %s (title %r, summary %r)" %
              (c["id"], c["title"], c["summary"]), r)
        if c["id"] == "connect":
            check(re.search(r"fail", lines[found], re.I) or c["summary"] in lines[found],
                  "the connect line shows neither its status nor its summary", r)
        pos = found
    rest = "\n".join(lines[pos + 1:])
    check(re.search(r"fail|verdict", rest, re.I),
          "no closing verdict line after the checklist", r)


@test
def t_starttls_rejected():
    """STARTTLS answered with 454: starttls fails starttls-rejected, exit 2, no AUTH sent"""
    srv = Server(starttls_refusing_handler)
    r = run_cli("--json", "--timeout=5", "-s", "starttls", "-u", "me",
                "--password-env=DOCTOR_TEST_SECRET", "127.0.0.1:%d" % srv.port,
                env={"DOCTOR_TEST_SECRET": SECRET})
    validate_report(r, "starttls")
    check(r.rc == 2, "expected exit status 2", r)
    expect_check(r, "greeting", "pass", None)
    expect_check(r, "ehlo", "pass", None)
    expect_check(r, "starttls", "fail", "starttls-rejected")
    for cid in ("tls", "certificate", "auth", "send"):
        expect_check(r, cid, "skipped", ("not-reached", "not-requested"))
    time.sleep(0.2)
    with srv.lock:
        got = list(srv.received)
    check(not any(l.upper().startswith(b"AUTH") for l in got),
          "the server received AUTH: %r" % got, r)
    check(not any(l.upper().startswith(b"MAIL") for l in got),
          "the server received MAIL: %r" % got, r)
    check(SECRET not in r.out + r.err, "the secret was printed", r)


@test
def t_silent_server_timeout():
    """a server that never greets, --timeout 1: greeting-timeout (or security-mismatch) in ~3 s"""
    srv = Server(silent_handler)
    r = run_cli("--json", "--timeout", "1", "-s", "starttls", "127.0.0.1:%d" % srv.port,
                timeout=30)
    validate_report(r, "starttls")
    check(r.rc == 2, "expected exit status 2", r)
    expect_check(r, "greeting", "fail", ("greeting-timeout", "security-mismatch"))
    check(r.elapsed < 3.5, "took %.2f s with --timeout 1" % r.elapsed, r)
    diag("silent server: %.2f s, reason %s" % (r.elapsed, r.check_by_id("greeting")["reason"]))


if __name__ == "__main__":
    main()
