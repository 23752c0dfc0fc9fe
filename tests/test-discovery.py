#!/usr/bin/python3
"""Settings from an email address (DoctorDiscovery) over real DNS, in network namespaces.

The test makes two network namespaces of its own, sddisc-<pid>-c (the client) and
sddisc-<pid>-s (the servers), joined by a veth pair with 10.201.1.1/24 (client) and
10.201.1.2/24 (server), and deletes them at the end, also on failure or when killed. Those
addresses, inside those namespaces, are the only ones any traffic goes to; 10.201.1.99 and
10.201.1.98 are addresses of that subnet that nobody holds (servers that cannot be reached),
10.201.1.3 a second address of the server namespace where nothing listens.

In the server namespace run Debian's dnsmasq, as the only DNS server the client namespace knows
(/etc/netns/<client>/resolv.conf, bind-mounted over /etc/resolv.conf by `ip netns exec`; hosts
and nsswitch.conf there too, so that names go to nothing but files and that DNS server), and a
small SMTP server of this file on 10.201.1.2: implicit TLS on 465, plain with STARTTLS on 587,
AUTH offered over TLS. dnsmasq reads no configuration file, no /etc/hosts and no resolv.conf and
has no upstream server: it answers from the records given on its command line only (--srv-host,
--mx-host, --host-record), and with NXDOMAIN for anything else under the domains it is --local
for. Some records use real provider names (smtp.gmail.com, smtp.fastmail.com): they exist only
in this dnsmasq and point at the test's own addresses.

The server's certificate is made here for the test names (and smtp.gmail.com), signed by the test
CA of $DOCTOR_TEST_CERTS: with --ca-file the TLS probes are "ok", without it
"certificate-untrusted". The server logs every command line it reads, which shows that no probe
sends anything but EHLO, STARTTLS and QUIT (never AUTH), and nothing at all over an untrusted
connection.

The driver (tests/test-discovery.c, $DOCTOR_DISCOVERY) runs in the client namespace and prints
the discovery as JSON.

Needs root, iproute2, iptables, dnsmasq and openssl. Prints TAP.
"""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

DRIVER = os.environ.get("DOCTOR_DISCOVERY", "")
CERTS = os.environ.get("DOCTOR_TEST_CERTS", "")
PYTHON = "/usr/bin/python3"
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
TIMEOUT_MS = 2000     # each lookup's and each probe's deadline
CMD_TIMEOUT = 10      # seconds, for every helper command
DRIVER_TIMEOUT = 20   # seconds, for each run of the driver (a hang is reported, not waited out)

NET = "10.201.1"
CLIENT_IP = NET + ".1"
SERVER_IP = NET + ".2"
SILENT_IP = NET + ".3"       # the server namespace's, nothing listens there
NOBODY_IP = NET + ".99"      # held by nobody: connections to it go unanswered
NOBODY2_IP = NET + ".98"     # the same, for the cancelled case (a neighbour cache of its own)

# The DNS data, as dnsmasq options. Each case below says which part it is about.
DNS = [
    # example.test: SRV for both kinds of submission, and a second, worse implicit-TLS server
    "--srv-host=_submissions._tcp.example.test,mail.example.test,465,0,1",
    "--srv-host=_submissions._tcp.example.test,mail2.example.test,465,10,1",
    "--srv-host=_submission._tcp.example.test,mail.example.test,587,0,1",
    "--host-record=mail.example.test," + SERVER_IP,
    "--host-record=mail2.example.test," + SILENT_IP,
    # mxonly.test: nothing but an MX host under Fastmail's pattern; Fastmail's submission host
    # leads nowhere
    "--mx-host=mxonly.test,mx.mxonly-test.messagingengine.com,10",
    "--host-record=smtp.fastmail.com," + NOBODY_IP,
    # mixed.test: SRV to the domain's own server, MX at Google
    "--srv-host=_submission._tcp.mixed.test,mail.mixed.test,587,0,1",
    "--host-record=mail.mixed.test," + SERVER_IP,
    "--mx-host=mixed.test,aspmx.l.google.com,1",
    "--host-record=smtp.gmail.com," + SERVER_IP,
    # gmail.com: the preset by domain, and an MX that agrees with it
    "--mx-host=gmail.com,gmail-smtp-in.l.google.com,5",
    # dot.test: "." for implicit TLS (not offered), STARTTLS on its own server
    "--srv-host=_submissions._tcp.dot.test",
    "--srv-host=_submission._tcp.dot.test,mail.dot.test,587,0,1",
    "--host-record=mail.dot.test," + SERVER_IP,
    # nosubmit.test: "." for both
    "--srv-host=_submissions._tcp.nosubmit.test",
    "--srv-host=_submission._tcp.nosubmit.test",
    # unknownmx.test: an MX of no known provider
    "--mx-host=unknownmx.test,mx.unknownmx.test,10",
    # cancel.test: an MX at Microsoft 365, whose submission host leads nowhere
    "--mx-host=cancel.test,cancel-test.mail.protection.outlook.com,0",
    "--host-record=smtp.office365.com," + NOBODY2_IP,
    # none.test: no records at all
]
LOCAL_DOMAINS = ("test", "gmail.com", "google.com", "fastmail.com", "messagingengine.com",
                 "office365.com", "outlook.com")
CERT_NAMES = ("mail.example.test", "mail2.example.test", "mail.mixed.test", "mail.dot.test",
              "smtp.gmail.com")


# --------------------------------------------------------------------------------------------
# A tiny TAP harness (as in test-port-scan.py)


class Failure(AssertionError):
    pass


TESTS = []
CLEANUPS = []       # after each case
LAB_CLEANUPS = []   # at the very end
WORKDIR = None


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


def run_cleanups(cleanups):
    while cleanups:
        try:
            cleanups.pop()()
        except Exception:
            diag("cleanup: " + traceback.format_exc())


def on_signal(signum, frame):
    # meson's timeout (SIGTERM) or ^C: leave no namespace, no dnsmasq behind.
    run_cleanups(CLEANUPS)
    run_cleanups(LAB_CLEANUPS)
    if WORKDIR is not None:
        shutil.rmtree(WORKDIR, ignore_errors=True)
    print("Bail out! killed by signal %d" % signum, flush=True)
    os._exit(1)


def missing_tools():
    if os.geteuid() != 0:
        return "not root: network namespaces need root"
    for tool in ("ip", "iptables", "openssl"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    if not os.access(DNSMASQ, os.X_OK):
        return "dnsmasq is not installed (Debian package dnsmasq-base)"
    if not DRIVER or not os.access(DRIVER, os.X_OK):
        return "DOCTOR_DISCOVERY is not an executable: %r" % DRIVER
    if not os.path.isfile(os.path.join(CERTS, "ca-key.pem")):
        return "no test CA in DOCTOR_TEST_CERTS=%r" % CERTS
    return None


LAB = None


def main():
    global WORKDIR, LAB
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    why = missing_tools()
    if why is not None and why.startswith("not root"):
        print("1..0 # SKIP " + why, flush=True)
        sys.exit(0)
    print("1..%d" % len(TESTS), flush=True)
    failed = 0
    t_start = time.monotonic()
    try:
        if why is None:
            WORKDIR = tempfile.mkdtemp(prefix="sddisc-")
            try:
                make_server_certificate()
                LAB = Lab()
            except Exception as e:
                why = "the test network could not be set up: %s" % (
                    e if isinstance(e, Failure) else traceback.format_exc())
        for n, fn in enumerate(TESTS, 1):
            name = (fn.__doc__ or fn.__name__).strip().splitlines()[0]
            try:
                if why is not None:
                    raise Failure(why)
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
                run_cleanups(CLEANUPS)
            sys.stdout.flush()
    finally:
        run_cleanups(CLEANUPS)
        run_cleanups(LAB_CLEANUPS)
        if WORKDIR is not None:
            shutil.rmtree(WORKDIR, ignore_errors=True)
    diag("all cases: %.1f s" % (time.monotonic() - t_start))
    sys.exit(1 if failed else 0)


# --------------------------------------------------------------------------------------------
# Commands, certificate, namespaces, servers


def sh(*argv, ok=True):
    """Runs a helper command (with a timeout); returns (rc, stdout, stderr)."""
    try:
        p = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=CMD_TIMEOUT, errors="replace")
    except subprocess.TimeoutExpired:
        raise Failure("timed out after %d s: %s" % (CMD_TIMEOUT, " ".join(argv)))
    if ok and p.returncode != 0:
        raise Failure("failed (%d): %s\n%s%s" % (p.returncode, " ".join(argv), p.stdout,
                                                  p.stderr))
    return p.returncode, p.stdout, p.stderr


def make_server_certificate():
    """server.pem / server-key.pem in WORKDIR: the test names and SERVER_IP, signed by the test
    CA, valid from yesterday for two days."""
    key = os.path.join(WORKDIR, "server-key.pem")
    csr = os.path.join(WORKDIR, "server.csr")
    ext = os.path.join(WORKDIR, "server.ext")
    san = ",".join(["DNS:" + name for name in CERT_NAMES] + ["IP:" + SERVER_IP])
    with open(ext, "w") as f:
        f.write("[leaf]\nbasicConstraints = critical,CA:FALSE\n"
                "keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n"
                "subjectAltName = %s\n" % san)
    sh("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
       "-out", key)
    sh("openssl", "req", "-new", "-key", key, "-subj", "/O=SMTP Doctor Tests/CN=" + CERT_NAMES[0],
       "-out", csr)
    sh("openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(CERTS, "ca.pem"),
       "-CAkey", os.path.join(CERTS, "ca-key.pem"), "-set_serial", str(os.getpid()),
       "-days", "2", "-extfile", ext, "-extensions", "leaf",
       "-out", os.path.join(WORKDIR, "server.pem"))


def argv_in(ns, *argv):
    return ["ip", "netns", "exec", ns] + list(argv)


# argv: ADDRESS CERT KEY LOG. 465: implicit TLS, then SMTP; 587: SMTP with STARTTLS. EHLO
# offers AUTH PLAIN LOGIN over TLS only (which no probe may use). Every command line read is
# appended to LOG as JSON {"port", "tls", "line"}. Prints "ready" once both ports listen; ends
# when its standard input closes, or after 280 s at most.
SERVER = r"""
import json, select, socket, ssl, sys, threading, time
address, cert, key, log_path = sys.argv[1:5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
lock = threading.Lock()

def log(port, tls, line):
    with lock, open(log_path, "a") as f:
        f.write(json.dumps({"port": port, "tls": tls,
                            "line": line.decode("latin-1").rstrip("\r\n")}) + "\n")

def serve(conn, port):
    conn.settimeout(10)
    tls = False
    try:
        if port == 465:
            conn = ctx.wrap_socket(conn, server_side=True)
            tls = True
        conn.sendall(b"220 sddisc.test ESMTP ready\r\n")
        f = conn.makefile("rb")
        while True:
            line = f.readline(4096)
            if not line:
                return
            log(port, tls, line)
            verb = line.split(b" ")[0].strip().upper()
            if verb in (b"EHLO", b"HELO"):
                caps = [b"250-sddisc.test", b"250-8BITMIME"]
                if not tls:
                    caps.append(b"250-STARTTLS")
                else:
                    caps.append(b"250-AUTH PLAIN LOGIN")
                caps.append(b"250 SIZE 1000000")
                conn.sendall(b"\r\n".join(caps) + b"\r\n")
            elif verb == b"STARTTLS" and not tls:
                conn.sendall(b"220 2.0.0 go ahead\r\n")
                conn = ctx.wrap_socket(conn, server_side=True)
                tls = True
                f = conn.makefile("rb")
            elif verb == b"QUIT":
                conn.sendall(b"221 2.0.0 bye\r\n")
                return
            else:
                conn.sendall(b"502 5.5.2 not here\r\n")
    except (OSError, ssl.SSLError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass

listeners = {}
for port in (465, 587):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((address, port))
    s.listen(32)
    listeners[s] = port
print("ready", flush=True)
end = time.monotonic() + 280
while time.monotonic() < end:
    r, _, _ = select.select(list(listeners) + [sys.stdin], [], [], 0.5)
    if sys.stdin in r and not sys.stdin.buffer.read1(1):
        break
    for s in r:
        if s in listeners:
            conn, _ = s.accept()
            threading.Thread(target=serve, args=(conn, listeners[s]), daemon=True).start()
"""


class Process:
    """A long-running helper in a namespace, stopped (and reaped) at the end."""

    def __init__(self, argv, what, stdin=False):
        self.what = what
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        LAB_CLEANUPS.append(self.stop)

    def stop(self):
        if self.p.poll() is not None:
            return
        if self.p.stdin is not None:
            try:
                self.p.stdin.close()
            except OSError:
                pass
            try:
                self.p.wait(3)
                return
            except subprocess.TimeoutExpired:
                pass
        self.p.terminate()
        try:
            self.p.wait(3)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(3)


class Lab:
    """The two namespaces, dnsmasq and the SMTP server, for every case."""

    def __init__(self):
        base = "sddisc-%d" % os.getpid()
        self.client = base + "-c"
        self.server = base + "-s"
        self.made = []
        self.etc = None
        LAB_CLEANUPS.append(self.delete)
        for ns in (self.client, self.server):
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        # Made right inside the two namespaces: the veth never exists in the caller's.
        sh("ip", "link", "add", "sddc", "netns", self.client, "type", "veth", "peer", "name",
           "sdds", "netns", self.server)
        sh("ip", "-n", self.client, "addr", "add", CLIENT_IP + "/24", "dev", "sddc")
        sh("ip", "-n", self.server, "addr", "add", SERVER_IP + "/24", "dev", "sdds")
        sh("ip", "-n", self.server, "addr", "add", SILENT_IP + "/24", "dev", "sdds")
        for ns, dev in ((self.client, "sddc"), (self.server, "sdds")):
            sh("ip", "-n", ns, "link", "set", dev, "up")

        # The client's view of /etc: this DNS server and nothing else. A lookup waits longer
        # than the driver's deadline, so that the deadline, not the C library, ends a silence.
        self.client_etc("resolv.conf", "nameserver %s\noptions timeout:5 attempts:1\n" % SERVER_IP)
        self.client_etc("hosts", "127.0.0.1 localhost\n::1 localhost\n")
        self.client_etc("nsswitch.conf", nsswitch_files_dns())

        self.dns_log = os.path.join(WORKDIR, "dnsmasq.log")
        argv = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                "--no-hosts", "--bind-interfaces", "--listen-address=" + SERVER_IP,
                "--pid-file=" + os.path.join(WORKDIR, "dnsmasq.pid"),
                "--log-facility=" + self.dns_log, "--log-queries"]
        argv += ["--local=/%s/" % d for d in LOCAL_DOMAINS]
        self.dnsmasq = Process(argv_in(self.server, *(argv + DNS)), "dnsmasq")
        self.wait_for_dns()

        self.log_path = os.path.join(WORKDIR, "commands.log")
        open(self.log_path, "w").close()
        self.smtp = Process(argv_in(self.server, PYTHON, "-c", SERVER, SERVER_IP,
                                    os.path.join(WORKDIR, "server.pem"),
                                    os.path.join(WORKDIR, "server-key.pem"), self.log_path),
                            "smtp server", stdin=True)
        r, _, _ = select.select([self.smtp.p.stdout], [], [], CMD_TIMEOUT)
        line = self.smtp.p.stdout.readline() if r else b""
        if line.strip() != b"ready":
            raise Failure("the SMTP server did not start: %r" % line)

    def wait_for_dns(self):
        """Until dnsmasq answers on port 53 (or has died)."""
        probe = ("import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                 "s.settimeout(0.2)\n"
                 "q=b'\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00'"
                 "+b'\\x04none\\x04test\\x00\\x00\\x01\\x00\\x01'\n"
                 "s.sendto(q,(sys.argv[1],53))\n"
                 "try:\n  s.recv(512)\nexcept OSError:\n  sys.exit(1)\n")
        for _ in range(50):
            if self.dnsmasq.p.poll() is not None:
                raise Failure("dnsmasq ended: %s" % self.dnsmasq.p.stderr.read().decode(
                    errors="replace"))
            rc, _, _ = sh(*argv_in(self.client, PYTHON, "-c", probe, SERVER_IP), ok=False)
            if rc == 0:
                return
            time.sleep(0.1)
        raise Failure("dnsmasq does not answer on %s:53" % SERVER_IP)

    def client_etc(self, name, text):
        """A file for the client namespace only: `ip netns exec` bind-mounts
        /etc/netns/NAME/FILE over /etc/FILE in its own mount namespace."""
        if self.etc is None:
            self.made_parent = not os.path.isdir("/etc/netns")
            self.etc = os.path.join("/etc/netns", self.client)
            os.makedirs(self.etc)
        with open(os.path.join(self.etc, name), "w") as f:
            f.write(text)

    def server_iptables(self, *rule):
        sh(*argv_in(self.server, "iptables", *rule))

    def commands(self):
        with open(self.log_path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def delete(self):
        try:
            for ns in self.made:
                sh("ip", "netns", "del", ns, ok=False)
        finally:
            if self.etc is not None:
                shutil.rmtree(self.etc, ignore_errors=True)
                if self.made_parent:
                    try:
                        os.rmdir("/etc/netns")
                    except OSError:
                        pass
        _, out, _ = sh("ip", "netns", "list", ok=False)
        left = [line.split()[0] for line in out.splitlines()
                if line.split() and line.split()[0] in self.made]
        if left:
            raise Failure("namespaces still there after ip netns del: %r" % left)


def nsswitch_files_dns():
    """The system's nsswitch.conf with "hosts: files dns": no mDNS, no systemd-resolved."""
    try:
        with open("/etc/nsswitch.conf") as f:
            lines = [line for line in f.read().splitlines()
                     if not line.strip().startswith("hosts:")]
    except OSError:
        lines = ["passwd: files", "group: files"]
    return "\n".join(lines + ["hosts: files dns"]) + "\n"


# --------------------------------------------------------------------------------------------
# Running the driver


class Discovery:
    def __init__(self, argv, rc, out, err, elapsed):
        self.argv = argv
        self.rc = rc
        self.out = out
        self.err = err
        self.wall = elapsed
        try:
            self.report = json.loads(out)
        except ValueError as e:
            raise Failure("stdout is not JSON (%s)\n%s" % (e, self.describe()))

    def describe(self):
        def cut(s):
            return s if len(s) < 8000 else s[:8000] + "\n[... cut ...]"
        return "command: %s\nexit status: %s (%.2f s)\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(self.argv), self.rc, self.wall, cut(self.out), cut(self.err))

    @property
    def candidates(self):
        return self.report["candidates"]

    def settings(self):
        return [(c["host"], c["port"], c["security"], c["source"]) for c in self.candidates]

    def expect_complete(self):
        r = self.report
        check(self.rc == 0, "the driver failed", self)
        check(self.err.strip() == "", "the driver wrote to standard error", self)
        check(r["finished"] is True, "not finished", self)
        for c in self.candidates:
            check(c["probe_result"] and c["probe_summary"],
                  "a candidate without a probe result or summary", self)
            check(c["detail"], "a candidate without a detail", self)
            check(c["source"] in ("srv", "preset", "mx"), "source %r" % c["source"], self)
            check(c["probe_duration_ms"] <= TIMEOUT_MS + 500,
                  "the probe of %s:%d took %d ms, beyond its deadline" % (
                      c["host"], c["port"], c["probe_duration_ms"]), self)

    def expect_settings(self, expected):
        check(self.settings() == expected,
              "candidates %r, expected %r" % (self.settings(), expected), self)

    def expect_probe(self, index, *results, detail=None, summary=None):
        c = self.candidates[index]
        check(c["probe_result"] in results,
              "candidate %d (%s:%d): probe %s, expected %s (%s | %s)" % (
                  index, c["host"], c["port"], c["probe_result"], " or ".join(results),
                  c["probe_summary"], c["probe_detail"]), self)
        if detail is not None:
            check(detail in (c["detail"] or ""),
                  "candidate %d: %r is not in the detail %r" % (index, detail, c["detail"]),
                  self)
        if summary is not None:
            check(summary in c["probe_summary"],
                  "candidate %d: %r is not in the summary %r" % (index, summary,
                                                                c["probe_summary"]), self)
        return c

    def expect_best(self, setting):
        best = self.report["best"]
        if setting is None:
            check(best is None, "expected no best candidate, got %r" % (best,), self)
            return
        got = best and (best["host"], best["port"], best["security"], best["source"])
        check(got == setting, "best %r, expected %r" % (got, setting), self)
        check(best["probe_result"] == "ok", "the best candidate is not ok: %r" % (best,), self)

    def expect_notes(self, *fragments_per_note, exact=True):
        """Each argument a tuple of fragments that one note must all hold; with exact, no
        other notes."""
        notes = self.report["notes"]
        for fragments in fragments_per_note:
            check(any(all(f in note for f in fragments) for note in notes),
                  "no note with %r in %r" % (fragments, notes), self)
        if exact:
            check(len(notes) == len(fragments_per_note),
                  "%d notes, expected %d: %r" % (len(notes), len(fragments_per_note), notes),
                  self)

    def expect_error(self, code, *fragments):
        error = self.report["error"]
        check(error is not None, "no error", self)
        check(self.report["error_code"] == code,
              "error code %r, expected %r" % (self.report["error_code"], code), self)
        for f in fragments:
            check(f in error, "%r is not in the error %r" % (f, error), self)

    def expect_elapsed(self, below_ms=None, above_ms=None):
        ms = self.report["elapsed_ms"]
        if below_ms is not None:
            check(ms < below_ms, "the discovery took %d ms, expected under %d ms" % (
                ms, below_ms), self)
        if above_ms is not None:
            check(ms >= above_ms, "the discovery took only %d ms, expected at least %d ms" % (
                ms, above_ms), self)


def discover(address, *args, ca=True, timeout_ms=TIMEOUT_MS):
    argv = [DRIVER, "--timeout", str(timeout_ms)]
    if ca:
        argv += ["--ca-file", os.path.join(CERTS, "ca.pem")]
    argv += list(args) + [address]
    argv = argv_in(LAB.client, *argv)
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=DRIVER_TIMEOUT, errors="replace")
    except subprocess.TimeoutExpired as e:
        raise Failure("timed out after %s s: %s\nstdout so far:\n%s\nstderr so far:\n%s" % (
            DRIVER_TIMEOUT, " ".join(argv), e.stdout, e.stderr))
    d = Discovery(argv, p.returncode, p.stdout, p.stderr, time.monotonic() - t0)
    diag("%s: %d ms, %s; best %s; error %s" % (
        address, d.report["elapsed_ms"],
        ", ".join("%s:%d/%s %s=%s" % (c["host"], c["port"], c["security"], c["source"],
                                      c["probe_result"]) for c in d.candidates) or "nothing",
        d.report["best"] and "%s:%d" % (d.report["best"]["host"], d.report["best"]["port"]),
        d.report["error"]))
    for note in d.report["notes"]:
        diag("  note: " + note)
    return d


def expect_harmless(d, since=0, untrusted=False):
    """Nothing but EHLO, STARTTLS and QUIT (never AUTH); over an untrusted connection, nothing
    at all."""
    for c in LAB.commands()[since:]:
        verb = c["line"].split(" ")[0].upper()
        check(verb in ("EHLO", "STARTTLS", "QUIT"),
              "the server on %d read %r" % (c["port"], c["line"]), d)
        check(not (untrusted and c["tls"]),
              "%r was sent over an untrusted TLS connection to %d" % (c["line"], c["port"]), d)


# --------------------------------------------------------------------------------------------
# The cases


@test
def t_srv():
    """SRV records: both kinds of submission verified, implicit TLS the best, in one go"""
    since = len(LAB.commands())
    d = discover("alice@Example.TEST.")
    d.expect_complete()
    check(d.report["error"] is None and d.report["domain"] == "example.test",
          "error %r, domain %r" % (d.report["error"], d.report["domain"]), d)
    # Implicit TLS first (RFC 8314), then by priority; STARTTLS after.
    d.expect_settings([("mail.example.test", 465, "tls", "srv"),
                       ("mail2.example.test", 465, "tls", "srv"),
                       ("mail.example.test", 587, "starttls", "srv")])
    c = d.expect_probe(0, "ok", detail="SRV _submissions._tcp.example.test priority 0 weight 1",
                       summary="SSL/TLS")
    check("TLS 1." in c["probe_detail"] and "AUTH PLAIN LOGIN" in c["probe_detail"],
          "probe detail %r" % c["probe_detail"], d)
    d.expect_probe(1, "refused", detail="priority 10 weight 1")
    c = d.expect_probe(2, "ok", detail="SRV _submission._tcp.example.test priority 0 weight 1",
                       summary="STARTTLS")
    check("AUTH PLAIN LOGIN" in c["probe_detail"], "probe detail %r" % c["probe_detail"], d)
    check(all(c["provider"] is None for c in d.candidates), "a provider for a test host", d)
    d.expect_best(("mail.example.test", 465, "tls", "srv"))
    d.expect_notes()
    d.expect_elapsed(below_ms=TIMEOUT_MS // 2)
    expect_harmless(d, since)
    # Every probe that got in said EHLO and QUIT; the STARTTLS one EHLO twice.
    verbs = [(c["port"], c["tls"], c["line"].split(" ")[0]) for c in LAB.commands()[since:]]
    for want in ((465, True, "EHLO"), (465, True, "QUIT"), (587, False, "EHLO"),
                 (587, False, "STARTTLS"), (587, True, "EHLO"), (587, True, "QUIT")):
        check(want in verbs, "%r not seen by the server: %r" % (want, verbs), d)


@test
def t_cli_discover():
    """smtp-doctor-cli --discover: the best candidate is diagnosed, every candidate is listed"""
    cli = os.environ.get("DOCTOR_CLI", "")
    check(cli and os.access(cli, os.X_OK), "DOCTOR_CLI is not an executable: %r" % cli)
    argv = argv_in(LAB.client, cli, "--json", "--timeout", "3", "--ca-file",
                   os.path.join(CERTS, "ca.pem"), "--discover", "alice@example.test")
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=DRIVER_TIMEOUT, errors="replace")
    try:
        report = json.loads(p.stdout)
    except ValueError:
        raise Failure("not JSON (exit %d):\n%s\n%s" % (p.returncode, p.stdout, p.stderr))
    t = report["target"]
    check((t["host"], t["port"], t["security"]) == ("mail.example.test", 465, "tls"),
          "target %r\n%s" % (t, p.stderr))
    found = [(c["host"], c["port"], c["security"], c["source"]) for c in report["discovery"]]
    check(("mail.example.test", 587, "starttls", "srv") in found, "discovery %r" % found)
    check(all(c["probe"] for c in report["discovery"]), "a candidate without its probe result")
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    check(statuses["connect"] == "pass" and statuses["tls"] == "pass",
          "checks %r\n%s" % (statuses, p.stderr))


@test
def t_mx_only():
    """only an MX under a preset's pattern: the provider's host listed, failing within a timeout"""
    d = discover("bob@mxonly.test")
    d.expect_complete()
    check(d.report["error"] is None, "error %r" % d.report["error"], d)
    d.expect_settings([("smtp.fastmail.com", 465, "tls", "mx"),
                       ("smtp.fastmail.com", 587, "starttls", "mx")])
    for i in range(2):
        c = d.expect_probe(i, "timeout", "unreachable",
                           detail="MX mx.mxonly-test.messagingengine.com (preference 10): "
                                  "Fastmail")
        check(c["provider"] == "fastmail", "provider %r" % c["provider"], d)
    d.expect_best(None)
    d.expect_notes(("MX records of mxonly.test belong to Fastmail", "smtp.fastmail.com",
                    "could not be verified"))
    # Both probes at once: about one timeout in all, not two.
    d.expect_elapsed(below_ms=TIMEOUT_MS * 3 // 2, above_ms=TIMEOUT_MS - 100)


@test
def t_srv_and_mx_disagree():
    """SRV to the domain's own server, MX at Google: SRV wins, and a note says they disagree"""
    since = len(LAB.commands())
    d = discover("carol@mixed.test")
    d.expect_complete()
    d.expect_settings([("mail.mixed.test", 587, "starttls", "srv"),
                       ("smtp.gmail.com", 465, "tls", "mx"),
                       ("smtp.gmail.com", 587, "starttls", "mx")])
    d.expect_probe(0, "ok")
    d.expect_probe(1, "ok", detail="MX aspmx.l.google.com (preference 1)")
    d.expect_probe(2, "ok")
    check(d.candidates[1]["provider"] == "gmail", "provider %r" % d.candidates[1], d)
    d.expect_best(("mail.mixed.test", 587, "starttls", "srv"))
    d.expect_notes(("The SRV record points to mail.mixed.test, but the MX records belong to "
                    "Gmail / Google Workspace",))
    d.expect_elapsed(below_ms=TIMEOUT_MS // 2)
    expect_harmless(d, since)


@test
def t_preset():
    """gmail.com: the preset by domain, the agreeing MX merged into it, 465 with SSL/TLS best"""
    d = discover("frank@gmail.com")
    d.expect_complete()
    d.expect_settings([("smtp.gmail.com", 465, "tls", "preset"),
                       ("smtp.gmail.com", 587, "starttls", "preset")])
    for i in range(2):
        c = d.expect_probe(i, "ok", detail="built-in settings for gmail.com (Gmail / Google "
                                           "Workspace)")
        check("also MX gmail-smtp-in.l.google.com" in c["detail"], "detail %r" % c["detail"], d)
        check(c["provider"] == "gmail", "provider %r" % c["provider"], d)
    d.expect_best(("smtp.gmail.com", 465, "tls", "preset"))
    d.expect_notes()


@test
def t_no_records():
    """no records and no preset: the error, at once"""
    d = discover("dave@none.test")
    d.expect_complete()
    d.expect_error(1, "No mail settings could be found for none.test")
    d.expect_settings([])
    d.expect_best(None)
    d.expect_notes()
    d.expect_elapsed(below_ms=TIMEOUT_MS // 2)

    d = discover("erin@unknownmx.test")
    d.expect_complete()
    d.expect_error(1, "No mail settings could be found for unknownmx.test", "mx.unknownmx.test")
    d.expect_settings([])


@test
def t_dot_target():
    """an SRV target of ".": that kind of submission not offered, the other one verified"""
    d = discover("dot.test")
    d.expect_complete()
    d.expect_settings([("mail.dot.test", 587, "starttls", "srv")])
    d.expect_probe(0, "ok")
    d.expect_best(("mail.dot.test", 587, "starttls", "srv"))
    d.expect_notes(("dot.test", "offers no mail submission with SSL/TLS", "“.”"))

    d = discover("someone@nosubmit.test")
    d.expect_complete()
    d.expect_error(1, "No mail settings could be found for nosubmit.test",
                   "offers no mail submission")
    d.expect_settings([])
    d.expect_notes(("no mail submission with SSL/TLS",), ("no mail submission with STARTTLS",))


@test
def t_untrusted():
    """without the test CA: certificate-untrusted, no best, nothing sent over those connections"""
    since = len(LAB.commands())
    d = discover("example.test", ca=False)
    d.expect_complete()
    d.expect_probe(0, "certificate-untrusted", summary="not trusted")
    d.expect_probe(2, "certificate-untrusted")
    d.expect_best(None)
    d.expect_notes(("SRV records of example.test", "could not be verified"))
    expect_harmless(d, since, untrusted=True)


@test
def t_dns_silent():
    """a DNS server that never answers: each lookup ends at its deadline, and the error says so"""
    LAB.server_iptables("-A", "INPUT", "-p", "udp", "--dport", "53", "-j", "DROP")
    CLEANUPS.append(lambda: LAB.server_iptables("-F", "INPUT"))
    LAB.server_iptables("-A", "INPUT", "-p", "tcp", "--dport", "53", "-j", "DROP")
    d = discover("gina@none.test", timeout_ms=1500)
    d.expect_complete()
    d.expect_error(1, "No mail settings could be found for none.test", "DNS")
    d.expect_notes(("did not answer about _submissions._tcp.none.test",),
                   ("did not answer about _submission._tcp.none.test",),
                   ("did not answer about none.test within 2 seconds",))
    d.expect_elapsed(below_ms=1500 * 3 // 2, above_ms=1500 - 100)


@test
def t_cancel_and_invalid():
    """a cancelled discovery ends at once; addresses without a mail domain are refused"""
    d = discover("cancel.test", "--cancel-after", "300")
    d.expect_complete()
    d.expect_error(-1, "cancel")
    d.expect_settings([("smtp.office365.com", 587, "starttls", "mx")])
    check(all(c["probe_result"] == "cancelled" for c in d.candidates) and d.candidates,
          "probe results %r" % [c["probe_result"] for c in d.candidates], d)
    d.expect_elapsed(below_ms=1000)

    for address in ("nobody@", "user@[10.201.1.2]", "10.201.1.2", "localhost", "a@b@exa mple.test"):
        d = discover(address)
        d.expect_complete()
        d.expect_error(0)
        d.expect_settings([])
        d.expect_elapsed(below_ms=200)


if __name__ == "__main__":
    main()
