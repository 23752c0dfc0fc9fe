#!/usr/bin/python3
"""smtp-doctor-cli under valgrind: no definite leak, no invalid read or write, in any scenario.

Prints TAP. Environment: DOCTOR_CLI (the binary), DOCTOR_TEST_CERTS (make-certs.sh's
certificates), G_TEST_SRCDIR (this directory, for smtp-server.py).

Each scenario runs the CLI as

    valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 ...

with G_SLICE=always-malloc and G_DEBUG=gc-friendly, so that every block GLib hands out is a
malloc() valgrind can follow. A scenario fails on valgrind's exit status 99 (any error: an
invalid read or write, a use of uninitialised memory, a definite leak), on a "definitely lost"
count above zero in the log, and when the CLI's own exit status is not the expected one (so a
scenario that stopped early cannot pass by doing nothing). GLib's and gnutls' one-time
allocations are still reachable at exit, which --errors-for-leak-kinds=definite does not count;
valgrind.supp holds the one exception found, glibc's resolver state in a live GLib pool thread
(see there), and nothing of SMTP Doctor's.

The scenarios: usage errors, an invalid target, a refused connection, a full STARTTLS + AUTH +
test message run against aiosmtpd (smtp-server.py) with the test CA, the same as --json and
--verbose, implicit TLS with an untrusted certificate, --scan-ports, a provider preset host and
--discover (both in a network namespace of their own with only a loopback, so the DNS lookups
fail at once and nothing leaves the machine), an .env file, and profiles (save, list, list
--json, use, delete) under a temporary HOME with no session bus.

The meson test exists only in builds without a sanitizer: valgrind and ASan cannot share a
process.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback

CLI = os.environ.get("DOCTOR_CLI", "")
CERTS = os.environ.get("DOCTOR_TEST_CERTS", "")
SRCDIR = os.environ.get("G_TEST_SRCDIR", os.path.dirname(os.path.abspath(__file__)))
PYTHON = "/usr/bin/python3"
RUN_TIMEOUT = 240  # seconds for one CLI run under valgrind

USER = "doctor@example.org"
SECRET = "Valgrind-S3cret!pw"

VALGRIND = ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite", "--error-exitcode=99", "--num-callers=40",
            "--track-origins=yes",
            "--suppressions=" + os.path.join(SRCDIR, "valgrind.supp")]

CLEANUPS = []
TESTS = []


class Failure(AssertionError):
    pass


def test(fn):
    TESTS.append(fn)
    return fn


def main():
    if not CLI or not os.path.exists(CLI):
        print("Bail out! DOCTOR_CLI is not set or missing: %r" % CLI)
        sys.exit(1)
    if not shutil.which("valgrind"):
        print("Bail out! valgrind is not installed (dev.sh installs it)")
        sys.exit(1)
    print("1..%d" % len(TESTS))
    failed = 0
    try:
        for i, fn in enumerate(TESTS, 1):
            try:
                fn()
                print("ok %d - %s" % (i, fn.__doc__))
            except Exception as e:
                failed += 1
                print("not ok %d - %s" % (i, fn.__doc__))
                text = str(e) if isinstance(e, Failure) else traceback.format_exc()
                for line in text.splitlines():
                    print("# " + line)
            sys.stdout.flush()
    finally:
        while CLEANUPS:
            try:
                CLEANUPS.pop()()
            except Exception:
                pass
    sys.exit(1 if failed else 0)


def closed_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def scratch(prefix):
    d = tempfile.mkdtemp(prefix="smtp-doctor-valgrind-" + prefix + "-")
    CLEANUPS.append(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


def base_env(home=None):
    env = dict(os.environ)
    env["G_SLICE"] = "always-malloc"
    env["G_DEBUG"] = "gc-friendly"
    env["DOCTOR_TEST_SECRET"] = SECRET
    # No session bus: the keyring is not reachable, and the CLI must say so without leaking.
    env["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=/nonexistent/bus"
    home = home or scratch("home")
    env["HOME"] = home
    env["XDG_CONFIG_HOME"] = os.path.join(home, ".config")
    env["XDG_DATA_HOME"] = os.path.join(home, ".local", "share")
    env["XDG_CACHE_HOME"] = os.path.join(home, ".cache")
    return env


def valgrind_cli(args, expect_rc, env=None, stdin_text="", netns=False):
    """Runs the CLI under valgrind; fails on a valgrind error or an unexpected exit status.
    expect_rc is one status or a tuple of the statuses the scenario allows."""
    env = env or base_env()
    logdir = scratch("log")
    log = os.path.join(logdir, "valgrind.log")
    argv = VALGRIND + ["--log-file=" + log, CLI] + list(args)
    if netns:
        # A network of its own with only a loopback: DNS has nowhere to go.
        argv = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"] + argv
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, input=stdin_text, capture_output=True, text=True, env=env,
                           timeout=RUN_TIMEOUT, errors="replace")
    except subprocess.TimeoutExpired as e:
        raise Failure("timed out after %d s: %s\n%s" % (RUN_TIMEOUT, " ".join(argv), e.stderr))
    elapsed = time.monotonic() - t0
    with open(log, errors="replace") as f:
        vlog = f.read()
    expected = expect_rc if isinstance(expect_rc, tuple) else (expect_rc,)

    def describe():
        return ("command: %s\nexit status %d (expected %s) after %.1f s\n"
                "stdout:\n%s\nstderr:\n%s\nvalgrind log:\n%s" % (
                    " ".join(args), p.returncode, expected, elapsed, p.stdout[-3000:],
                    p.stderr[-3000:], vlog[-20000:]))

    lost = re.search(r"definitely lost: ([\d,]+) bytes", vlog)
    errors = re.search(r"ERROR SUMMARY: (\d+) errors", vlog)
    if p.returncode == 99 or (lost and lost.group(1) != "0") or \
       (errors and errors.group(1) != "0"):
        raise Failure("valgrind found errors\n" + describe())
    if errors is None:
        raise Failure("valgrind wrote no summary\n" + describe())
    if p.returncode not in expected:
        raise Failure("unexpected exit status\n" + describe())
    for leak in (SECRET,):
        if leak in p.stdout or leak in p.stderr:
            raise Failure("the password is in the output\n" + describe())
    return p


class SmtpServer:
    """smtp-server.py (aiosmtpd) on 127.0.0.1, as in test-aiosmtpd.py."""

    def __init__(self, mode, cert="good"):
        self.dir = scratch("server")
        ready = os.path.join(self.dir, "ready")
        argv = [PYTHON, os.path.join(SRCDIR, "smtp-server.py"), "--port", "0", "--mode", mode,
                "--cert", os.path.join(CERTS, cert + ".pem"),
                "--key", os.path.join(CERTS, cert + "-key.pem"),
                "--auth", "%s:%s" % (USER, SECRET),
                "--maildir", os.path.join(self.dir, "mail"), "--ready-file", ready]
        self.log = open(os.path.join(self.dir, "server.log"), "w+")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        CLEANUPS.append(self.stop)
        deadline = time.monotonic() + 15
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                raise Failure("smtp-server.py did not start:\n" + self.log.read())
            time.sleep(0.02)
        with open(ready) as f:
            self.port = int(f.read().strip())

    def messages(self):
        maildir = os.path.join(self.dir, "mail")
        if not os.path.isdir(maildir):
            return []
        return [n for n in os.listdir(maildir) if n.endswith(".eml")]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def ca_file():
    return "--ca-file=" + os.path.join(CERTS, "ca.pem")


# --------------------------------------------------------------------------------------------


@test
def t_usage_errors():
    """usage errors (unknown option, no host, --from without --to): exit 3, no leak"""
    valgrind_cli(["--no-such-option"], 3)
    valgrind_cli([], 3)
    valgrind_cli(["--from=a@example.org", "127.0.0.1"], 3)


@test
def t_invalid_target():
    """an invalid target (bad port, host with a space): exit 3, no leak"""
    valgrind_cli(["127.0.0.1:99999"], 3)
    valgrind_cli(["exa mple.com"], (2, 3))


@test
def t_connection_refused():
    """a refused connection on a closed 127.0.0.1 port: exit 2, no leak"""
    valgrind_cli(["--timeout=10", "127.0.0.1:%d" % closed_port()], 2)


@test
def t_starttls_auth_message():
    """STARTTLS, the test CA, AUTH and a test message against aiosmtpd: exit 0, no leak"""
    srv = SmtpServer("starttls")
    valgrind_cli(["--timeout=60", "-s", "starttls", ca_file(), "-u", USER,
                  "--password-env=DOCTOR_TEST_SECRET", "--from=" + USER,
                  "--to=someone@example.org", "127.0.0.1:%d" % srv.port], 0)
    if len(srv.messages()) != 1:
        raise Failure("the server did not get the test message: %r" % srv.messages())


@test
def t_starttls_json_verbose():
    """the same run with --json, and with --verbose and --password-stdin: exit 0, no leak"""
    srv = SmtpServer("starttls")
    p = valgrind_cli(["--json", "--timeout=60", ca_file(), "-u", USER,
                      "--password-env=DOCTOR_TEST_SECRET", "127.0.0.1:%d" % srv.port], 0)
    if not p.stdout.lstrip().startswith("{"):
        raise Failure("--json printed no JSON:\n" + p.stdout[:2000])
    valgrind_cli(["--verbose", "--timeout=60", ca_file(), "-u", USER, "--password-stdin",
                  "127.0.0.1:%d" % srv.port], 0, stdin_text=SECRET + "\n")


@test
def t_tls_untrusted():
    """implicit TLS with a certificate from an unknown CA: exit 2, no leak"""
    srv = SmtpServer("tls")
    valgrind_cli(["--timeout=60", "-s", "tls", "-u", USER, "--password-env=DOCTOR_TEST_SECRET",
                  "127.0.0.1:%d" % srv.port], 2)


@test
def t_scan_ports():
    """--scan-ports against closed ports (a network of its own): exit 2, no leak"""
    valgrind_cli(["--scan-ports", "--json", "--timeout=10", "127.0.0.1:%d" % closed_port()],
                 2, netns=True)


@test
def t_provider_preset():
    """a provider preset's host and --discover, DNS failing at once: no crash, no leak"""
    valgrind_cli(["--timeout=10", "-u", "someone@gmail.com", "--password-env=DOCTOR_TEST_SECRET",
                  "smtp.gmail.com"], 2, netns=True)
    valgrind_cli(["--json", "--timeout=10", "--discover=someone@outlook.com"], (1, 2),
                 netns=True)


@test
def t_env_file():
    """an .env file (Laravel) pointing at a closed port: exit 2, no leak"""
    d = scratch("env")
    path = os.path.join(d, ".env")
    with open(path, "w") as f:
        f.write("APP_NAME=demo\nMAIL_MAILER=smtp\nMAIL_HOST=127.0.0.1\nMAIL_PORT=%d\n"
                "MAIL_USERNAME=%s\nMAIL_PASSWORD=%s\nMAIL_ENCRYPTION=tls\n" % (
                    closed_port(), USER, SECRET))
    valgrind_cli(["--timeout=10", "--env-file=" + path], 2)


@test
def t_profiles():
    """profiles under a temporary HOME with no keyring: save, list, list --json, use, delete"""
    env = base_env()
    port = closed_port()
    valgrind_cli(["--save-profile=Work", "-s", "none", "127.0.0.1:%d" % port], 0, env=env)
    p = valgrind_cli(["--list-profiles"], 0, env=env)
    if "Work" not in p.stdout:
        raise Failure("--list-profiles does not show the saved profile:\n" + p.stdout)
    valgrind_cli(["--list-profiles", "--json"], 0, env=env)
    valgrind_cli(["--timeout=10", "--profile=Work"], 2, env=env)
    valgrind_cli(["--profile=Nope"], (2, 3), env=env)
    # Deleting asks the keyring for the password too; with no bus that is an error to report.
    valgrind_cli(["--delete-profile=Work"], (0, 1, 2), env=env)


if __name__ == "__main__":
    main()
