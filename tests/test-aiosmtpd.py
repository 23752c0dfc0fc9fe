#!/usr/bin/python3
"""Happy paths of smtp-doctor-cli against a real SMTP server (aiosmtpd, smtp-server.py).

Prints TAP. Environment: DOCTOR_CLI (the binary), DOCTOR_TEST_CERTS (the certificates made by
make-certs.sh), G_TEST_SRCDIR (this directory, for smtp-server.py).
"""

import base64
import email.parser
import email.policy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

CLI = os.environ.get("DOCTOR_CLI", "")
CERTS = os.environ.get("DOCTOR_TEST_CERTS", "")
SRCDIR = os.environ.get("G_TEST_SRCDIR", os.path.dirname(os.path.abspath(__file__)))
PYTHON = "/usr/bin/python3"
CLI_TIMEOUT = 60  # seconds, for each run of the binary

USER = "doctor@example.org"
SECRET = "Aio-Test-S3cret!pw"
# Every form in which the secret could leak.
LEAKS = [
    SECRET,
    base64.b64encode(SECRET.encode()).decode(),
    base64.b64encode(("\0%s\0%s" % (USER, SECRET)).encode()).decode(),
    base64.b64encode(("%s\0%s\0%s" % (USER, USER, SECRET)).encode()).decode(),
]

CHECK_ORDER = {
    "starttls": ["dns", "connect", "greeting", "ehlo", "starttls", "tls", "certificate",
                 "auth", "send"],
    "tls": ["dns", "connect", "tls", "certificate", "greeting", "ehlo", "starttls", "auth",
            "send"],
    "none": ["dns", "connect", "greeting", "ehlo", "starttls", "tls", "certificate", "auth",
             "send"],
}


# --------------------------------------------------------------------------------------------
# A tiny TAP harness


class Failure(AssertionError):
    pass


TESTS = []
CLEANUPS = []
ALL_RUNS = []  # every CLI run, for the leak test


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
    try:
        for n, fn in enumerate(TESTS, 1):
            name = (fn.__doc__ or fn.__name__).strip().splitlines()[0]
            try:
                if not CLI or not os.access(CLI, os.X_OK):
                    raise Failure("DOCTOR_CLI is not an executable: %r" % CLI)
                if not CERTS or not os.path.exists(os.path.join(CERTS, "ca.pem")):
                    raise Failure("DOCTOR_TEST_CERTS has no ca.pem: %r" % CERTS)
                fn()
            except Exception as e:
                failed += 1
                print("not ok %d - %s" % (n, name))
                diag(str(e) if isinstance(e, Failure) else traceback.format_exc())
            else:
                print("ok %d - %s" % (n, name))
            finally:
                while CLEANUPS:
                    try:
                        CLEANUPS.pop()()
                    except Exception:
                        diag("cleanup: " + traceback.format_exc())
            sys.stdout.flush()
    finally:
        while CLEANUPS:
            try:
                CLEANUPS.pop()()
            except Exception:
                pass
    sys.exit(1 if failed else 0)


# --------------------------------------------------------------------------------------------
# The server


class SmtpServer:
    def __init__(self, mode, cert="good", auth=True, require_auth=False, pipelining=False):
        self.dir = tempfile.mkdtemp(prefix="smtp-doctor-aiosmtpd-")
        CLEANUPS.append(lambda: shutil.rmtree(self.dir, ignore_errors=True))
        self.maildir = os.path.join(self.dir, "mail")
        ready = os.path.join(self.dir, "ready")
        argv = [PYTHON, os.path.join(SRCDIR, "smtp-server.py"), "--port", "0", "--mode", mode,
                "--cert", os.path.join(CERTS, cert + ".pem"),
                "--key", os.path.join(CERTS, cert + "-key.pem"),
                "--maildir", self.maildir, "--ready-file", ready]
        if auth:
            argv += ["--auth", "%s:%s" % (USER, SECRET)]
        if require_auth:
            argv.append("--require-auth")
        if pipelining:
            argv.append("--pipelining")
        self.log = open(os.path.join(self.dir, "server.log"), "w+")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        CLEANUPS.append(self.stop)
        deadline = time.monotonic() + 15
        while not os.path.exists(ready):
            if self.proc.poll() is not None:
                raise Failure("smtp-server.py exited with %s:\n%s" % (self.proc.returncode,
                                                                     self.server_log()))
            if time.monotonic() > deadline:
                raise Failure("smtp-server.py not ready after 15 s:\n" + self.server_log())
            time.sleep(0.02)
        with open(ready) as f:
            self.port = int(f.read().strip())

    def server_log(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def commands(self):
        try:
            with open(os.path.join(self.maildir, "commands.log"), encoding="utf-8") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def auth_received(self):
        return any(l.upper().startswith("AUTH") for l in self.commands())

    def messages(self):
        out = []
        if not os.path.isdir(self.maildir):
            return out
        for name in sorted(os.listdir(self.maildir)):
            if name.startswith("msg-") and name.endswith(".json"):
                with open(os.path.join(self.maildir, name), encoding="utf-8") as f:
                    out.append(json.load(f))
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


# --------------------------------------------------------------------------------------------
# Running the binary


class Run:
    def __init__(self, args, rc, out, err, elapsed):
        self.args, self.rc, self.out, self.err, self.elapsed = args, rc, out, err, elapsed
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
            return s if len(s) < 6000 else s[:6000] + "\n[... cut ...]"
        return "command: %s\nexit status: %s (%.2f s)\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(self.args), self.rc, self.elapsed, cut(self.out), cut(self.err))


def run_cli(*args, stdin_text="", env=None, timeout=CLI_TIMEOUT):
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    argv = [CLI] + list(args)
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, input=stdin_text, capture_output=True, text=True,
                           env=full_env, timeout=timeout, errors="replace")
    except subprocess.TimeoutExpired as e:
        raise Failure("timed out after %s s: %s\nstdout so far:\n%s\nstderr so far:\n%s" % (
            timeout, " ".join(argv), e.stdout, e.stderr))
    r = Run(argv, p.returncode, p.stdout, p.stderr, time.monotonic() - t0)
    ALL_RUNS.append(r)
    for leak in LEAKS:
        check(leak not in r.out and leak not in r.err,
              "the secret (or its base64 %r) appears in the output" % leak, r)
    return r


def with_secret(how):
    """CLI arguments and keyword arguments that hand over SECRET by stdin or environment."""
    if how == "stdin":
        return ["--password-stdin"], {"stdin_text": SECRET + "\n"}
    return ["--password-env=DOCTOR_TEST_SECRET"], {"env": {"DOCTOR_TEST_SECRET": SECRET}}


def ca_file():
    return "--ca-file=" + os.path.join(CERTS, "ca.pem")


def expect_check(run, cid, status, reasons):
    c = run.check_by_id(cid)
    if isinstance(reasons, str) or reasons is None:
        reasons = (reasons,)
    check(c["status"] == status and c["reason"] in reasons,
          "check %s: expected %s/%s, got %s/%s (%s)" % (cid, status, "|".join(map(str, reasons)),
                                                      c["status"], c["reason"], c["summary"]),
          run)
    return c


def expect_ids(run, security):
    ids = [c["id"] for c in run.report["checks"]]
    check(ids == CHECK_ORDER[security], "check ids %r, expected %r" % (ids,
                                                                       CHECK_ORDER[security]),
          run)


def expect_all_good(run, security):
    rep = run.report
    check(rep.get("version") == 1, "version is not 1", run)
    expect_ids(run, security)
    bad = [(c["id"], c["status"], c["reason"]) for c in rep["checks"]
           if c["status"] not in ("pass", "skipped")]
    check(not bad, "checks neither pass nor skipped: %r" % bad, run)
    check(rep["verdict"] == "pass", "verdict %r, expected pass" % rep["verdict"], run)
    check(run.rc == 0, "expected exit status 0", run)
    t = rep["target"]
    check(t["host"] == "127.0.0.1" and t["security"] == security, "target %r" % (t,), run)


def expect_auth_masked(run):
    client = [l["text"] for l in run.report["transcript"] if l["from"] == "client"]
    auth = [i for i, t in enumerate(client) if t.upper().startswith("AUTH")]
    check(auth, "no AUTH line in the transcript: %r" % client, run)
    for i in auth:
        t = client[i]
        if t.upper().startswith("AUTH PLAIN"):
            check(t == "AUTH PLAIN ****", "AUTH PLAIN not masked: %r" % t, run)
        elif t.upper().startswith("AUTH LOGIN"):
            check(t in ("AUTH LOGIN", "AUTH LOGIN ****"), "AUTH LOGIN not masked: %r" % t, run)
            for follow in client[i + 1:i + 3]:
                check(set(follow) <= set("*"), "AUTH LOGIN reply not masked: %r" % follow, run)
        else:
            raise Failure("unexpected AUTH mechanism in the transcript: %r\n%s" %
                          (t, run.describe()))


# --------------------------------------------------------------------------------------------
# The tests


@test
def t_starttls_password_stdin():
    """STARTTLS, --ca-file, --password-stdin: exit 0, everything passes, auth pass"""
    srv = SmtpServer("starttls")
    args, kw = with_secret("stdin")
    r = run_cli("--json", "--timeout=10", "-s", "starttls", "-u", USER, *args, ca_file(),
                "127.0.0.1:%d" % srv.port, **kw)
    expect_all_good(r, "starttls")
    check(r.report["target"]["user"] == USER, "target.user", r)
    for cid in ("dns", "connect", "greeting", "ehlo", "starttls", "tls", "certificate"):
        expect_check(r, cid, "pass", None)
    expect_check(r, "auth", "pass", None)
    expect_check(r, "send", "skipped", "not-requested")
    expect_auth_masked(r)
    check(srv.auth_received(), "the server never received AUTH: %r" % srv.commands(), r)
    tls_lines = [l for l in r.report["transcript"] if l["tls"]]
    check(tls_lines, "no transcript line is marked tls after STARTTLS", r)
    auth_lines = [l for l in r.report["transcript"]
                  if l["from"] == "client" and l["text"].upper().startswith("AUTH")]
    check(all(l["tls"] for l in auth_lines), "AUTH sent outside TLS per the transcript", r)


@test
def t_starttls_password_env():
    """STARTTLS, --ca-file, --password-env: exit 0, everything passes, auth pass"""
    srv = SmtpServer("starttls")
    args, kw = with_secret("env")
    r = run_cli("--json", "--timeout=10", "-u", USER, *args, ca_file(),
                "127.0.0.1:%d" % srv.port, **kw)
    expect_all_good(r, "starttls")
    expect_check(r, "auth", "pass", None)
    expect_auth_masked(r)


@test
def t_implicit_tls():
    """implicit TLS (-s tls), --ca-file, a user: exit 0, everything passes, auth pass"""
    srv = SmtpServer("tls")
    args, kw = with_secret("env")
    r = run_cli("--json", "--timeout=10", "-s", "tls", "-u", USER, *args, ca_file(),
                "127.0.0.1:%d" % srv.port, **kw)
    expect_all_good(r, "tls")
    for cid in ("dns", "connect", "tls", "certificate", "greeting", "ehlo"):
        expect_check(r, cid, "pass", None)
    expect_check(r, "starttls", "skipped", "not-applicable")
    expect_check(r, "auth", "pass", None)
    expect_auth_masked(r)
    check(srv.auth_received(), "the server never received AUTH", r)


@test
def t_implicit_tls_password_stdin():
    """implicit TLS with --password-stdin: exit 0"""
    srv = SmtpServer("tls")
    args, kw = with_secret("stdin")
    r = run_cli("--json", "--timeout=10", "-s", "tls", "-u", USER, *args, ca_file(),
                "127.0.0.1:%d" % srv.port, **kw)
    expect_all_good(r, "tls")
    expect_check(r, "auth", "pass", None)


@test
def t_send_message():
    """--from/--to: the test message is delivered with Date, Message-ID, From, To, Subject"""
    send_message(pipelining=False)


@test
def t_send_message_pipelined():
    """--from/--to with PIPELINING offered: MAIL, RCPT and DATA go together, the message arrives"""
    r = send_message(pipelining=True)
    client = [l["text"] for l in r.report["transcript"] if l["from"] == "client"]
    mail = [i for i, t in enumerate(client) if t.startswith("MAIL FROM:")]
    check(mail and client[mail[0]:mail[0] + 3][1:] == ["RCPT TO:<rcpt@example.net>", "DATA"],
          "MAIL FROM, RCPT TO and DATA are not one group in the transcript: %r" % client, r)
    send = r.check_by_id("send")
    check("pipelining" in send["details"], "the send check does not say it pipelined", r)


def send_message(pipelining):
    srv = SmtpServer("starttls", require_auth=True, pipelining=pipelining)
    args, kw = with_secret("env")
    sender, rcpt = "sender@example.org", "rcpt@example.net"
    r = run_cli("--json", "--timeout=10", "-u", USER, *args, ca_file(), "--from=" + sender,
                "--to=" + rcpt, "127.0.0.1:%d" % srv.port, **kw)
    expect_all_good(r, "starttls")
    expect_check(r, "send", "pass", None)
    msgs = srv.messages()
    check(len(msgs) == 1, "expected 1 delivered message, found %d" % len(msgs), r)
    m = msgs[0]
    check(m["mail_from"] == sender, "envelope sender %r" % m["mail_from"], r)
    check(m["rcpt_tos"] == [rcpt], "envelope recipients %r" % m["rcpt_tos"], r)
    check(m["authenticated"] and m["tls"], "the message was not sent over TLS after AUTH", r)
    msg = email.parser.Parser(policy=email.policy.default).parsestr(m["data"])
    for h in ("Date", "Message-ID", "From", "To", "Subject"):
        check(msg[h], "the message has no %s header:\n%s" % (h, m["data"]), r)
    check(sender in str(msg["From"]), "From: %r" % str(msg["From"]), r)
    check(rcpt in str(msg["To"]), "To: %r" % str(msg["To"]), r)
    check("\r\n" in m["data"] or "\n" not in m["data"], "message lines not CRLF", r)
    for leak in LEAKS:
        check(leak not in m["data"], "the secret is in the message", r)
    send = r.check_by_id("send")
    check(("pipelining" in send["details"]) == pipelining,
          "pipelining %s, but the send check details are %r" % (pipelining, send["details"]), r)
    return r


@test
def t_send_message_text_output():
    """--from/--to without --json (text output): exit 0, message delivered, no secret shown"""
    srv = SmtpServer("tls")
    args, kw = with_secret("stdin")
    r = run_cli("--timeout=10", "-s", "tls", "-u", USER, *args, ca_file(),
                "--from=a@example.org", "--to=b@example.org", "127.0.0.1:%d" % srv.port, **kw)
    check(r.rc == 0, "expected exit status 0", r)
    check(len(srv.messages()) == 1, "expected 1 delivered message", r)
    check("\x1b" not in r.out, "ANSI escape in piped output", r)


@test
def t_wrong_password():
    """wrong password: exit 2, auth fails with auth-failed"""
    srv = SmtpServer("starttls")
    r = run_cli("--json", "--timeout=10", "-u", USER, "--password-env=DOCTOR_TEST_SECRET",
                ca_file(), "127.0.0.1:%d" % srv.port,
                env={"DOCTOR_TEST_SECRET": "not-the-password"})
    check(r.rc == 2, "expected exit status 2", r)
    check(r.report["verdict"] == "fail", "verdict %r" % r.report["verdict"], r)
    expect_ids(r, "starttls")
    for cid in ("dns", "connect", "greeting", "ehlo", "starttls", "tls", "certificate"):
        expect_check(r, cid, "pass", None)
    expect_check(r, "auth", "fail", "auth-failed")
    expect_check(r, "send", "skipped", ("not-reached", "not-requested"))
    check("not-the-password" not in r.out + r.err, "the wrong password was printed", r)
    check(any("535" in l["text"] for l in r.report["transcript"] if l["from"] == "server"),
          "the 535 reply is not in the transcript", r)


@test
def t_untrusted_certificate():
    """no --ca-file: exit 2, certificate-untrusted, auth-skipped-untrusted, no AUTH sent"""
    srv = SmtpServer("starttls")
    args, kw = with_secret("env")
    r = run_cli("--json", "--timeout=10", "-u", USER, *args, "127.0.0.1:%d" % srv.port, **kw)
    check(r.rc == 2, "expected exit status 2", r)
    expect_ids(r, "starttls")
    expect_check(r, "starttls", "pass", None)
    expect_check(r, "tls", "pass", None)
    c = expect_check(r, "certificate", "fail", "certificate-untrusted")
    check(c["details"], "the certificate check has no details", r)
    expect_check(r, "auth", "skipped", "auth-skipped-untrusted")
    expect_check(r, "send", "skipped", ("not-reached", "not-requested"))
    time.sleep(0.3)
    check(not srv.auth_received(), "the server received AUTH: %r" % srv.commands(), r)


@test
def t_untrusted_certificate_implicit_tls():
    """implicit TLS, no --ca-file: certificate-untrusted, auth skipped, no AUTH sent"""
    srv = SmtpServer("tls")
    args, kw = with_secret("stdin")
    r = run_cli("--json", "--timeout=10", "-s", "tls", "-u", USER, *args,
                "127.0.0.1:%d" % srv.port, **kw)
    check(r.rc == 2, "expected exit status 2", r)
    expect_check(r, "certificate", "fail", "certificate-untrusted")
    expect_check(r, "auth", "skipped", ("auth-skipped-untrusted", "not-reached"))
    time.sleep(0.3)
    check(not srv.auth_received(), "the server received AUTH: %r" % srv.commands(), r)


@test
def t_plaintext_auth_refused():
    """plain server, a user, no --allow-plaintext-auth: auth-plaintext-refused, no AUTH sent"""
    srv = SmtpServer("plain")
    args, kw = with_secret("env")
    r = run_cli("--json", "--timeout=10", "-s", "none", "-u", USER, *args,
                "127.0.0.1:%d" % srv.port, **kw)
    check(r.rc == 2, "expected exit status 2", r)
    expect_ids(r, "none")
    for cid in ("dns", "connect", "greeting", "ehlo"):
        expect_check(r, cid, "pass", None)
    for cid in ("starttls", "tls", "certificate"):
        expect_check(r, cid, "skipped", "not-applicable")
    expect_check(r, "auth", "fail", "auth-plaintext-refused")
    time.sleep(0.3)
    check(not srv.auth_received(), "the server received AUTH: %r" % srv.commands(), r)


@test
def t_plaintext_auth_allowed():
    """plain server with --allow-plaintext-auth: AUTH is done, auth warns, exit 1"""
    srv = SmtpServer("plain")
    args, kw = with_secret("env")
    r = run_cli("--json", "--timeout=10", "-s", "none", "--allow-plaintext-auth", "-u", USER,
                *args, "127.0.0.1:%d" % srv.port, **kw)
    check(r.rc == 1, "expected exit status 1 (a warning)", r)
    check(r.report["verdict"] == "warn", "verdict %r" % r.report["verdict"], r)
    check(r.check_by_id("auth")["status"] == "warn", "auth is not a warning", r)
    check(srv.auth_received(), "the server never received AUTH", r)
    expect_auth_masked(r)


@test
def t_no_user_lists_mechanisms():
    """no user: auth passes (mechanisms listed), exit 0, nothing sent as AUTH"""
    srv = SmtpServer("starttls")
    r = run_cli("--json", "--timeout=10", ca_file(), "127.0.0.1:%d" % srv.port)
    expect_all_good(r, "starttls")
    c = expect_check(r, "auth", "pass", None)
    facts = json.dumps(c["details"])
    check("PLAIN" in facts and "LOGIN" in facts, "mechanisms not in the auth details", r)
    check(r.report["target"]["user"] is None, "target.user should be null", r)
    time.sleep(0.2)
    check(not srv.auth_received(), "the server received AUTH without a user", r)


@test
def t_secret_never_shown():
    """the secret (plain or base64) never appears in any stdout, stderr or JSON"""
    check(ALL_RUNS, "no runs to check")
    for r in ALL_RUNS:
        for leak in LEAKS:
            check(leak not in r.out and leak not in r.err,
                  "the secret (or %r) appears" % leak, r)
        if r.out.lstrip().startswith("{"):
            text = json.dumps(r.report)
            for leak in LEAKS:
                check(leak not in text, "the secret (or %r) is in the JSON" % leak, r)
    diag("%d runs checked" % len(ALL_RUNS))


if __name__ == "__main__":
    main()
