#!/usr/bin/python3
"""smtp-doctor-cli against hostile server text, and a login whose secret must appear nowhere.

Runs inside run-with-keyring.sh (a real gnome-keyring-daemon on a private session bus), so that
--save-profile and --profile work. The servers are small Python socket servers on 127.0.0.1,
started by each test; the one that logs in speaks STARTTLS with the certificates of
make-certs.sh. The TAP harness and the Server class come from test-cli.py. Prints TAP.
"""

import base64
import importlib.util
import json
import os
import shutil
import ssl
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("cli_tests", os.path.join(HERE, "test-cli.py"))
h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h)

# The harness collects the tests of this file, not of the one it came from.
h.TESTS.clear()
test, check, run_cli, Server = h.test, h.check, h.run_cli, h.Server

CERTS = os.environ.get("DOCTOR_TEST_CERTS", "")

# ESC [ 31m, an OSC 8 hyperlink, BEL, backspaces, a CR in the middle, Pango markup, an entity,
# bytes that are not UTF-8 and a C1 control (U+009B, the one-byte CSI).
HOSTILE = (b"\x1b[31mRED\x1b[0m \x1b]8;;https://evil.example/\x07click\x1b]8;;\x07 bell\x07 "
           b"back\x08\x08 mid\rline <b>bold</b> <span foreground=\"red\">span</span> "
           b"&amp; & bad\xff\xfe\xc3 c1\xc2\x9b2J end")

USER = "hostile-user@example.org"
SECRET = "Hostile-CLI-S3cret!"


def b64(data):
    return base64.b64encode(data.encode()).decode()


# Every form in which the secret could leak: itself, AUTH LOGIN's base64 of it, the AUTH PLAIN
# blob (with an empty and with a repeated authorization identity).
LEAKS = [SECRET, b64(SECRET), b64("\0%s\0%s" % (USER, SECRET)),
         b64("%s\0%s\0%s" % (USER, USER, SECRET))]


def tmpdir(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    h.CLEANUPS.append(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


def assert_plain_bytes(data, what, run):
    """Valid UTF-8 with no control character but LF and TAB: nothing a terminal would act on."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise h.Failure("%s is not UTF-8 (%s)\n%s" % (what, e, run.describe()))
    for i, c in enumerate(text):
        o = ord(c)
        if (o < 0x20 and c not in "\n\t") or o == 0x7f or 0x80 <= o < 0xa0:
            raise h.Failure("%s has a raw control character U+%04X at %d: %r\n%s" %
                            (what, o, i, text[max(0, i - 40):i + 40], run.describe()))


def run_cli_bytes(*args, env=None):
    """Like run_cli, but keeps stdout and stderr as bytes, as a terminal would get them."""
    import subprocess
    full_env = dict(os.environ)
    full_env.update(env or {})
    argv = [h.CLI] + list(args)
    t0 = time.monotonic()
    p = subprocess.run(argv, input=b"", capture_output=True, env=full_env,
                       timeout=h.CLI_TIMEOUT)
    r = h.Run(argv, p.returncode, p.stdout.decode("utf-8", "replace"),
              p.stderr.decode("utf-8", "replace"), time.monotonic() - t0)
    return r, p.stdout, p.stderr


# --------------------------------------------------------------------------------------------
# Hostile text


def hostile_handler(where):
    """Hostile text in the greeting, the EHLO reply or the reply to MAIL FROM."""
    def handler(conn, server):
        buf = bytearray()
        conn.sendall(b"220 " + (HOSTILE if where == "greeting" else b"test ESMTP") + b"\r\n")
        while True:
            line = server.readline(conn, buf)
            if line is None:
                return
            verb = line.split(b" ", 1)[0].upper()
            if verb == b"EHLO":
                if where == "ehlo":
                    conn.sendall(b"250-" + HOSTILE + b"\r\n250-X-" + HOSTILE +
                                 b"\r\n250 8BITMIME\r\n")
                else:
                    conn.sendall(b"250-test\r\n250 8BITMIME\r\n")
            elif verb == b"MAIL":
                conn.sendall(b"553-5.7.1 " + HOSTILE + b"\r\n553 5.7.1 " + HOSTILE + b"\r\n")
            elif verb == b"RSET":
                conn.sendall(b"250 ok\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"502 5.5.1 no\r\n")
    return handler


def hostile_case(where, cid, status):
    srv = Server(hostile_handler(where))
    target = "127.0.0.1:%d" % srv.port
    common = ["--timeout=5", "-s", "none", "--from", "me@example.org", "--to",
              "you@example.net", target]

    r, out, err = run_cli_bytes("--verbose", *common)
    assert_plain_bytes(out, "the text output", r)
    assert_plain_bytes(err, "standard error", r)
    for literal in ("\\x1b[31mRED", "\\x1b]8;;https://evil.example/\\x07click", "\\x08",
                    "mid\\x0dline", "<b>bold</b>", "&amp; &", "\\u009b2J", "\ufffd"):
        check(literal in r.out, "the text output lacks %r" % literal, r)

    j, out, err = run_cli_bytes("--json", *common)
    assert_plain_bytes(out, "the JSON", j)
    report = h.validate_report(j, "none")
    c = h.expect_check(j, cid, status, None if status == "pass" else "sender-rejected")
    shown = json.dumps(c, ensure_ascii=False)
    check("\\\\x1b[31mRED" in shown and "<b>bold</b>" in shown,
          "the %s check does not carry the server text, escaped" % cid, j)
    check(any("\\x1b[31mRED" in line["text"] for line in report["transcript"]),
          "the transcript does not show the server text escaped", j)


@test
def t_hostile_greeting():
    """escapes, markup and invalid UTF-8 in the greeting: literal in text, JSON and transcript"""
    hostile_case("greeting", "greeting", "pass")


@test
def t_hostile_ehlo():
    """escapes, markup and invalid UTF-8 in the EHLO reply: literal in text and JSON"""
    hostile_case("ehlo", "ehlo", "pass")


@test
def t_hostile_error_reply():
    """escapes, markup and invalid UTF-8 in an error reply: literal in text and JSON"""
    hostile_case("mail", "send", "fail")


# --------------------------------------------------------------------------------------------
# A login, then the secret searched for everywhere


class LoginServer(Server):
    """STARTTLS, then AUTH with one mechanism (PLAIN or LOGIN), checked against USER and
    SECRET; accepts the test message. Records whether a correct login happened."""

    def __init__(self, mechanism):
        self.mechanism = mechanism
        self.logins = 0
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(os.path.join(CERTS, "good.pem"),
                                     os.path.join(CERTS, "good-key.pem"))
        super().__init__(self.serve)

    def serve(self, conn, server):
        buf = bytearray()
        tls = False
        conn.sendall(b"220 login.test ESMTP\r\n")
        while True:
            line = self.readline(conn, buf)
            if line is None:
                return
            verb = line.split(b" ", 1)[0].upper()
            if verb == b"EHLO":
                caps = [b"8BITMIME"]
                caps.append(b"AUTH " + self.mechanism.encode() if tls else b"STARTTLS")
                conn.sendall(b"250-login.test\r\n" +
                             b"".join(b"250-" + c + b"\r\n" for c in caps[:-1]) +
                             b"250 " + caps[-1] + b"\r\n")
            elif verb == b"STARTTLS" and not tls:
                conn.sendall(b"220 2.0.0 go ahead\r\n")
                conn = self.context.wrap_socket(conn, server_side=True)
                conn.settimeout(10)
                buf = bytearray()
                tls = True
            elif verb == b"AUTH" and tls:
                if self.authenticate(conn, line, buf):
                    self.logins += 1
                    conn.sendall(b"235 2.7.0 Authentication successful\r\n")
                else:
                    conn.sendall(b"535 5.7.8 Authentication credentials invalid\r\n")
            elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                conn.sendall(b"250 2.0.0 Ok\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                while True:
                    data = self.readline(conn, buf)
                    if data is None or data == b".":
                        break
                conn.sendall(b"250 2.0.0 Ok: queued\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                conn.sendall(b"502 5.5.1 not here\r\n")

    def authenticate(self, conn, line, buf):
        words = line.split()
        if len(words) < 2 or words[1].decode().upper() != self.mechanism:
            return False
        if self.mechanism == "PLAIN":
            blob = words[2] if len(words) > 2 else None
            if blob is None:
                conn.sendall(b"334 \r\n")
                blob = self.readline(conn, buf)
            parts = base64.b64decode(blob).split(b"\0")
            return parts[1:] == [USER.encode(), SECRET.encode()]
        conn.sendall(b"334 VXNlcm5hbWU6\r\n")
        user = base64.b64decode(self.readline(conn, buf) or b"")
        conn.sendall(b"334 UGFzc3dvcmQ6\r\n")
        secret = base64.b64decode(self.readline(conn, buf) or b"")
        return user == USER.encode() and secret == SECRET.encode()


def secret_nowhere(mechanism):
    home = tmpdir("smtp-doctor-secrets-")
    env = {"G_MESSAGES_DEBUG": "all"}
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env[var] = os.path.join(home, var.lower())
        os.makedirs(env[var])
    srv = LoginServer(mechanism)
    target = "127.0.0.1:%d" % srv.port
    ca = "--ca-file=" + os.path.join(CERTS, "ca.pem")
    message = ["--from", "me@example.org", "--to", "you@example.net"]
    runs = []

    # Text with the transcript, JSON, JSON with the transcript, each with every debug message
    # on standard error; the password once from standard input, once from the environment.
    r = run_cli("--verbose", "-u", USER, "--password-stdin", ca, "--timeout", "10", *message,
                target, stdin_text=SECRET + "\n", env=env)
    check(r.rc == 0 and "AUTH %s" % mechanism in r.out, "a verbose login", r)
    check(mechanism != "PLAIN" or "AUTH PLAIN ****" in r.out, "AUTH PLAIN is not masked", r)
    check("-DEBUG: " in r.err, "G_MESSAGES_DEBUG=all printed no debug messages", r)
    runs.append(r)
    env_secret = dict(env, DOCTOR_HOSTILE_SECRET=SECRET)
    r = run_cli("--json", "-u", USER, "--password-env=DOCTOR_HOSTILE_SECRET", ca, "--timeout",
                "10", *message, target, env=env_secret)
    check(r.check_by_id("auth")["status"] == "pass", "a JSON login", r)
    check(r.check_by_id("send")["status"] == "pass", "a JSON send", r)
    runs.append(r)
    # A saved profile, its password in the keyring, used for a run.
    r = run_cli("--save-profile", "p", "-u", USER, "--password-stdin", ca, target,
                stdin_text=SECRET + "\n", env=env)
    check(r.rc == 0, "save", r)
    runs.append(r)
    r = run_cli("--json", "--verbose", "--profile", "p", "--timeout", "10", env=env)
    check(r.check_by_id("auth")["status"] == "pass", "a login from the keyring", r)
    runs.append(r)
    r = run_cli("--list-profiles", "--json", env=env)
    runs.append(r)

    # The server really got the password each time: the searches below are not vacuous.
    check(srv.logins == 3, "the server saw %d good logins, not 3" % srv.logins)
    with srv.lock:
        got = b"\n".join(srv.received).decode("utf-8", "replace")
    if mechanism == "LOGIN":
        check(b64(SECRET) in got, "the server never got the LOGIN password")
    else:
        check(b64("\0%s\0%s" % (USER, SECRET)) in got, "the server never got the PLAIN blob")

    for r in runs:
        for leak in LEAKS:
            check(leak not in r.out, "a form of the secret is on standard output", r)
            check(leak not in r.err, "a form of the secret is on standard error", r)
    # Nothing written below any XDG folder of the run (profiles, caches, state) holds it.
    n_files = 0
    for root, _, files in os.walk(home):
        for name in files:
            n_files += 1
            with open(os.path.join(root, name), "rb") as f:
                data = f.read()
            for leak in LEAKS:
                check(leak.encode() not in data, "a form of the secret is in %s" % name)
    check(n_files >= 1, "no file was saved: the profile should be")


@test
def t_secret_nowhere_plain():
    """AUTH PLAIN login: the secret, its base64 and the PLAIN blob in no output, log or file"""
    secret_nowhere("PLAIN")


@test
def t_secret_nowhere_login():
    """AUTH LOGIN login: the secret and its base64 in no output, log or file"""
    secret_nowhere("LOGIN")


if __name__ == "__main__":
    h.main()
