#!/usr/bin/python3
"""The port × security matrix (DoctorPortScan) over real kernel network paths.

Each case makes a pair of network namespaces of its own, sdscan-<pid>-<n>-c (the client) and
sdscan-<pid>-<n>-s (the server), joined by a veth pair with 10.200.<n>.1/24 and 10.200.<n>.2/24,
and deletes them afterwards, also on failure. The cases about a network that blocks mail put a
third namespace between them, sdscan-<pid>-<n>-r, a router with 10.200.<n>.254/24 towards the
client and 10.200.<100+n>.254/24 towards the server (then 10.200.<100+n>.2), whose FORWARD rules
stand for the ISP's or the hotel's firewall. Those addresses, inside those namespaces, are the
only ones any traffic goes to. In the server namespace a small SMTP server of this file
listens on 25, 465, 587, 2525 and 443 (tests/smtp-server.py binds 127.0.0.1 only), and iptables
rules there drop or reject ports. The driver (tests/test-port-scan.c, $DOCTOR_PORT_SCAN) runs in
the client namespace and prints the scan as JSON.

Firewall cases first make the same connections with a plain Python socket in the client
namespace, so that a kernel that behaves differently from what the case assumes is reported as
such, apart from a misclassification by the scan.

The server's certificate is made here for the test addresses and mail.sdscan.test, signed by the
test CA of $DOCTOR_TEST_CERTS: with --ca-file the TLS cells are "ok", without it
"certificate-untrusted". The server logs every command line it reads, which shows that no cell
sends anything but EHLO, STARTTLS and QUIT, and nothing at all over an untrusted connection.

Needs root, iproute2, iptables and openssl. Prints TAP.
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

DRIVER = os.environ.get("DOCTOR_PORT_SCAN", "")
CERTS = os.environ.get("DOCTOR_TEST_CERTS", "")
PYTHON = "/usr/bin/python3"
TIMEOUT_MS = 2000     # each cell's deadline
CMD_TIMEOUT = 10      # seconds, for every helper command
DRIVER_TIMEOUT = 20   # seconds, for each run of the driver (a hang is reported, not waited out)
HOST_NAME = "mail.sdscan.test"
SMTP_PORTS = (25, 465, 587, 2525)
CONTROL = 443


# --------------------------------------------------------------------------------------------
# A tiny TAP harness (as in test-network.py)


class Failure(AssertionError):
    pass


TESTS = []
CLEANUPS = []
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


def run_cleanups():
    while CLEANUPS:
        try:
            CLEANUPS.pop()()
        except Exception:
            diag("cleanup: " + traceback.format_exc())


def on_signal(signum, frame):
    # meson's timeout (SIGTERM) or ^C: leave no namespace behind.
    run_cleanups()
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
    if not DRIVER or not os.access(DRIVER, os.X_OK):
        return "DOCTOR_PORT_SCAN is not an executable: %r" % DRIVER
    if not os.path.isfile(os.path.join(CERTS, "ca-key.pem")):
        return "no test CA in DOCTOR_TEST_CERTS=%r" % CERTS
    return None


def main():
    global WORKDIR
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
            WORKDIR = tempfile.mkdtemp(prefix="sdscan-")
            make_server_certificate()
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
                run_cleanups()
            sys.stdout.flush()
    finally:
        if WORKDIR is not None:
            shutil.rmtree(WORKDIR, ignore_errors=True)
    diag("all cases: %.1f s" % (time.monotonic() - t_start))
    sys.exit(1 if failed else 0)


# --------------------------------------------------------------------------------------------
# Commands, certificate, namespaces


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


MAX_PAIRS = 16
_pair_counter = 0


def make_server_certificate():
    """server.pem / server-key.pem in WORKDIR: the test addresses and HOST_NAME, signed by the
    test CA, valid from yesterday for two days."""
    key = os.path.join(WORKDIR, "server-key.pem")
    csr = os.path.join(WORKDIR, "server.csr")
    ext = os.path.join(WORKDIR, "server.ext")
    san = ",".join(["DNS:" + HOST_NAME] +
                   ["IP:10.200.%d.2" % n for n in range(1, MAX_PAIRS + 1)] +
                   ["IP:10.200.%d.2" % (100 + n) for n in range(1, MAX_PAIRS + 1)])
    with open(ext, "w") as f:
        f.write("[leaf]\nbasicConstraints = critical,CA:FALSE\n"
                "keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n"
                "subjectAltName = %s\n" % san)
    sh("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
       "-out", key)
    sh("openssl", "req", "-new", "-key", key, "-subj", "/O=SMTP Doctor Tests/CN=" + HOST_NAME,
       "-out", csr)
    sh("openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(CERTS, "ca.pem"),
       "-CAkey", os.path.join(CERTS, "ca-key.pem"), "-set_serial", str(os.getpid()),
       "-days", "2", "-extfile", ext, "-extensions", "leaf",
       "-out", os.path.join(WORKDIR, "server.pem"))


class Pair:
    """Two namespaces joined by a veth pair: client 10.200.N.1, server 10.200.N.2; or, with
    router=True, three: client 10.200.N.1, router 10.200.N.254 and 10.200.(100+N).254, server
    10.200.(100+N).2."""

    def __init__(self, icmp_ratelimit=0, router=False):
        global _pair_counter
        _pair_counter += 1
        check(_pair_counter <= MAX_PAIRS, "more namespace pairs than the certificate names")
        self.n = n = _pair_counter
        base = "sdscan-%d-%d" % (os.getpid(), n)
        self.client = base + "-c"
        self.server = base + "-s"
        self.router = base + "-r" if router else None
        self.client_ip = "10.200.%d.1" % n
        self.etc = None
        self.made = []
        CLEANUPS.append(self.delete)
        for ns in (self.client, self.router, self.server):
            if ns is not None:
                sh("ip", "netns", "add", ns)
                self.made.append(ns)
                sh("ip", "-n", ns, "link", "set", "lo", "up")
        if router:
            self.server_ip = "10.200.%d.2" % (100 + n)
            self.veth(self.client, "sdc%d" % n, self.client_ip,
                      self.router, "sdr%d" % n, "10.200.%d.254" % n)
            self.veth(self.router, "sdf%d" % n, "10.200.%d.254" % (100 + n),
                      self.server, "sds%d" % n, self.server_ip)
            sh("ip", "-n", self.client, "route", "add", "default", "via", "10.200.%d.254" % n)
            sh("ip", "-n", self.server, "route", "add", "default", "via",
               "10.200.%d.254" % (100 + n))
            self.proc_sys(self.router, "net/ipv4/ip_forward", 1)
        else:
            self.server_ip = "10.200.%d.2" % n
            self.veth(self.client, "sdc%d" % n, self.client_ip,
                      self.server, "sds%d" % n, self.server_ip)
        # Linux sends at most about one ICMP error a second to a peer, after a burst of six
        # (net.ipv4.icmp_ratelimit, per namespace, 1000 ms by default). Off unless a case asks
        # for it, so that the kernel probes before a scan do not use up the burst.
        for ns in (self.router, self.server):
            if ns is not None:
                self.proc_sys(ns, "net/ipv4/icmp_ratelimit", icmp_ratelimit)

    def veth(self, ns1, dev1, ip1, ns2, dev2, ip2):
        # Made right inside the two namespaces: the veth never exists in the caller's.
        sh("ip", "link", "add", dev1, "netns", ns1, "type", "veth", "peer", "name", dev2,
           "netns", ns2)
        for ns, dev, ip in ((ns1, dev1, ip1), (ns2, dev2, ip2)):
            sh("ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")

    def proc_sys(self, ns, name, value):
        """A sysctl of that namespace only (no procps needed)."""
        sh(*self.argv(ns, PYTHON, "-c", "open('/proc/sys/%s', 'w').write('%d')" % (name, value)))

    def argv(self, ns, *argv):
        return ["ip", "netns", "exec", ns] + list(argv)

    def server_iptables(self, *rule):
        sh(*self.argv(self.server, "iptables", *rule))

    def router_iptables(self, *rule):
        sh(*self.argv(self.router, "iptables", *rule))

    def client_etc(self, name, text):
        """A file for the client namespace only: `ip netns exec` bind-mounts
        /etc/netns/NAME/FILE over /etc/FILE in its own mount namespace."""
        if self.etc is None:
            self.made_parent = not os.path.isdir("/etc/netns")
            self.etc = os.path.join("/etc/netns", self.client)
            os.makedirs(self.etc)
        with open(os.path.join(self.etc, name), "w") as f:
            f.write(text)

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


# --------------------------------------------------------------------------------------------
# The server: one process, every port, a thread per connection


# argv: ADDRESS CONFIG-JSON CERT KEY LOG. CONFIG maps a port to a mode:
#   smtp            greets, EHLO offers STARTTLS, STARTTLS switches to TLS
#   smtp-nostarttls greets, EHLO without STARTTLS
#   smtps           implicit TLS, then SMTP
#   busy            "421" greeting, then closes
#   silent          accepts and says nothing (port 443 waiting for a ClientHello); logs what
#                   it reads
# Every command line read is appended to LOG as JSON {"port", "tls", "line"}. Prints "ready"
# once every port listens; ends when its standard input closes, or after 120 s at most.
SERVER = r"""
import json, select, socket, ssl, sys, threading, time
address, config, cert, key, log_path = sys.argv[1:6]
config = {int(k): v for k, v in json.loads(config).items()}
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
lock = threading.Lock()

def log(port, tls, line):
    with lock, open(log_path, "a") as f:
        f.write(json.dumps({"port": port, "tls": tls,
                            "line": line.decode("latin-1").rstrip("\r\n")}) + "\n")

def serve(conn, port, mode):
    conn.settimeout(10)
    tls = False
    try:
        if mode == "silent":
            while True:
                data = conn.recv(4096)
                if not data:
                    return
                log(port, tls, b"(TLS ClientHello)" if data[:1] == b"\x16" else data)
        if mode == "smtps":
            conn = ctx.wrap_socket(conn, server_side=True)
            tls = True
        if mode == "busy":
            conn.sendall(b"421 4.3.2 sdscan busy, try later\r\n")
            return
        conn.sendall(b"220 sdscan.test ESMTP ready\r\n")
        f = conn.makefile("rb")
        while True:
            line = f.readline(4096)
            if not line:
                return
            if line[:1] == b"\x16":
                # A TLS ClientHello on a plain-text port (a TLS cell): no SMTP.
                log(port, tls, b"(TLS ClientHello)")
                return
            log(port, tls, line)
            verb = line.split(b" ")[0].strip().upper()
            if verb in (b"EHLO", b"HELO"):
                caps = [b"250-sdscan.test", b"250-8BITMIME"]
                if mode == "smtp" and not tls:
                    caps.append(b"250-STARTTLS")
                caps.append(b"250 SIZE 1000000")
                conn.sendall(b"\r\n".join(caps) + b"\r\n")
            elif verb == b"STARTTLS" and mode == "smtp" and not tls:
                conn.sendall(b"220 2.0.0 go ahead\r\n")
                conn = ctx.wrap_socket(conn, server_side=True)
                tls = True
                f = conn.makefile("rb")
            elif verb == b"QUIT":
                conn.sendall(b"221 2.0.0 bye\r\n")
                return
            else:
                conn.sendall(b"500 5.5.2 what?\r\n")
    except (OSError, ssl.SSLError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass

listeners = {}
for port, mode in config.items():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((address, port))
    s.listen(32)
    listeners[s] = (port, mode)
print("ready", flush=True)
end = time.monotonic() + 120
while time.monotonic() < end:
    r, _, _ = select.select(list(listeners) + [sys.stdin], [], [], 0.5)
    if sys.stdin in r and not sys.stdin.buffer.read1(1):
        break
    for s in r:
        if s in listeners:
            conn, _ = s.accept()
            port, mode = listeners[s]
            threading.Thread(target=serve, args=(conn, port, mode), daemon=True).start()
"""

ALL_OPEN = {25: "smtp", 465: "smtps", 587: "smtp", 2525: "smtp", CONTROL: "silent"}


class Server:
    def __init__(self, pair, config):
        self.log_path = os.path.join(WORKDIR, "commands-%d.log" % pair.n)
        open(self.log_path, "w").close()
        self.p = subprocess.Popen(
            pair.argv(pair.server, PYTHON, "-c", SERVER, pair.server_ip,
                      json.dumps({str(k): v for k, v in config.items()}),
                      os.path.join(WORKDIR, "server.pem"),
                      os.path.join(WORKDIR, "server-key.pem"), self.log_path),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        CLEANUPS.append(self.stop)
        r, _, _ = select.select([self.p.stdout], [], [], CMD_TIMEOUT)
        line = self.p.stdout.readline() if r else b""
        if line.strip() != b"ready":
            self.stop()
            raise Failure("the server in %s did not start: %r %r" % (pair.server, line,
                                                                     self.p.stderr.read()))

    def stop(self):
        if self.p.poll() is not None:
            return
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(3)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(3)

    def commands(self):
        with open(self.log_path) as f:
            return [json.loads(line) for line in f if line.strip()]


# A plain connect() from the client namespace: what the kernel itself reports.
PROBE = r"""
import errno, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(float(sys.argv[3]))
t = time.monotonic()
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    res = "connected"
except socket.timeout:
    res = "timeout"
except OSError as e:
    res = errno.errorcode.get(e.errno, str(e.errno))
print(res, "%.3f" % (time.monotonic() - t))
"""


def kernel_expect(pair, expected):
    """expected: {port: "connected" | "timeout" | "EHOSTUNREACH" | …}, checked one by one."""
    for port, want in sorted(expected.items()):
        _, out, err = sh(*pair.argv(pair.client, PYTHON, "-c", PROBE, pair.server_ip,
                                    str(port), "1"))
        try:
            got, secs = out.split()
        except ValueError:
            raise Failure("the probe printed %r %r" % (out, err))
        check(got == want,
              "the kernel does not behave as this case assumes: a plain connect() to %s:%d "
              "gave %s after %s s, expected %s (this is not about the port scan)" %
              (pair.server_ip, port, got, secs, want))


# --------------------------------------------------------------------------------------------
# Running the driver


class Scan:
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
            return s if len(s) < 6000 else s[:6000] + "\n[... cut ...]"
        return "command: %s\nexit status: %s (%.2f s)\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(self.argv), self.rc, self.wall, cut(self.out), cut(self.err))

    def cell(self, port, security):
        for c in self.report["cells"]:
            if c["port"] == port and c["security"] == security:
                return c
        raise Failure("no cell %d/%s\n%s" % (port, security, self.describe()))

    def expect(self, port, security, result, *in_detail):
        c = self.cell(port, security)
        check(c["result"] == result,
              "cell %d/%s: expected %s, got %s (%s | %s)" % (port, security, result,
                                                            c["result"], c["summary"],
                                                            c["detail"]), self)
        check(bool(c["summary"]), "cell %d/%s has no summary" % (port, security), self)
        for text in in_detail:
            check(text in (c["detail"] or ""),
                  "cell %d/%s: %r is not in the detail %r" % (port, security, text,
                                                             c["detail"]), self)
        return c

    def expect_port(self, port, result, *in_detail):
        for c in self.report["cells"]:
            if c["port"] == port:
                self.expect(port, c["security"], result, *in_detail)

    def expect_best(self, port, security):
        best = self.report["best"]
        if port is None:
            check(best is None, "expected no best setting, got %r" % (best,), self)
            return
        check(best is not None and (best["port"], best["security"]) == (port, security),
              "expected best %d/%s, got %r" % (port, security, best), self)
        check(best["result"] == "ok", "the best cell is not ok: %r" % (best,), self)

    def expect_diagnosis(self, code):
        got = self.report["diagnosis"]
        check(got == code, "expected diagnosis %r, got %r (%s)" % (
            code, got, self.report["diagnosis_summary"]), self)
        check((self.report["diagnosis_summary"] is None) == (code is None),
              "diagnosis summary %r for %r" % (self.report["diagnosis_summary"], code), self)

    def expect_elapsed(self, below_ms=None, above_ms=None):
        ms = self.report["elapsed_ms"]
        if below_ms is not None:
            check(ms < below_ms, "the scan took %d ms, expected under %d ms" % (ms, below_ms),
                  self)
            check(self.wall * 1000 < below_ms + 500,
                  "the driver ran %.2f s, expected under %d ms" % (self.wall, below_ms + 500),
                  self)
        if above_ms is not None:
            check(ms >= above_ms, "the scan took only %d ms, expected at least %d ms" %
                  (ms, above_ms), self)

    def expect_complete(self):
        """Finished, every cell with a result, one "cell-finished" signal for each."""
        r = self.report
        check(self.rc == 0, "the driver failed", self)
        check(self.err.strip() == "", "the driver wrote to standard error", self)
        check(r["finished"] is True, "not finished", self)
        check(len(r["cells"]) == 11, "%d cells, expected 11" % len(r["cells"]), self)
        check(all(c["result"] and c["summary"] for c in r["cells"]),
              "a cell without a result or summary", self)
        indices = sorted(s["index"] for s in r["signals"])
        check(indices == list(range(len(r["cells"]))),
              "cell-finished signals for %r, expected one for each cell" % indices, self)
        check(r["control"]["port"] == CONTROL, "control %r" % (r["control"],), self)
        for c in r["cells"]:
            check(c["duration_ms"] <= TIMEOUT_MS + 500,
                  "cell %d/%s took %d ms, beyond its deadline" % (c["port"], c["security"],
                                                                 c["duration_ms"]), self)


def scan(pair, *args, host=None, address=True, ca=True):
    argv = [DRIVER, "--timeout", str(TIMEOUT_MS)]
    if ca:
        argv += ["--ca-file", os.path.join(CERTS, "ca.pem")]
    if address:
        argv += ["--address", pair.server_ip]
    argv += list(args) + [host or pair.server_ip]
    argv = pair.argv(pair.client, *argv)
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=DRIVER_TIMEOUT, errors="replace")
    except subprocess.TimeoutExpired as e:
        raise Failure("timed out after %s s: %s\nstdout so far:\n%s\nstderr so far:\n%s" % (
            DRIVER_TIMEOUT, " ".join(argv), e.stdout, e.stderr))
    s = Scan(argv, p.returncode, p.stdout, p.stderr, time.monotonic() - t0)
    cells = ", ".join("%d/%s=%s" % (c["port"], c["security"], c["result"])
                      for c in s.report["cells"])
    diag("%d ms: %s; control %s; best %s; diagnosis %s" % (
        s.report["elapsed_ms"], cells, s.report["control"]["result"],
        s.report["best"] and "%d/%s" % (s.report["best"]["port"], s.report["best"]["security"]),
        s.report["diagnosis"]))
    return s


def expect_harmless(server, scan_run, untrusted=False):
    """Nothing but EHLO, STARTTLS and QUIT; over an untrusted connection, nothing at all."""
    for c in server.commands():
        line = c["line"]
        if line == "(TLS ClientHello)":
            continue    # a TLS cell on a plain-text port
        verb = line.split(" ")[0].upper()
        check(verb in ("EHLO", "STARTTLS", "QUIT"),
              "the server on %d read %r" % (c["port"], line), scan_run)
        check(not (untrusted and c["tls"]),
              "%r was sent over an untrusted TLS connection to %d" % (line, c["port"]),
              scan_run)


# --------------------------------------------------------------------------------------------
# The cases


@test
def t_all_open():
    """every port open: each mode told apart, 465 with SSL/TLS best, no waiting out a deadline"""
    pair = Pair()
    server = Server(pair, ALL_OPEN)
    s = scan(pair)
    s.expect_complete()
    for port in (25, 587, 2525):
        s.expect(port, "tls", "mode-mismatch", "220 sdscan.test")
        s.expect(port, "starttls", "ok", "TLS 1.", "220 sdscan.test")
        s.expect(port, "none", "ok", "220 sdscan.test")
    s.expect(465, "tls", "ok", "TLS 1.", "220 sdscan.test")
    s.expect(465, "starttls", "mode-mismatch")
    check(s.report["control"]["result"] == "open", "control %r" % s.report["control"], s)
    s.expect_best(465, "tls")
    s.expect_diagnosis(None)
    # The silent STARTTLS cell of 465 is settled by its TLS sibling, not by its deadline.
    s.expect_elapsed(below_ms=TIMEOUT_MS // 2)
    expect_harmless(server, s)
    # Port 25 (postscreen): no ClientHello before the greeting, the TLS cell only listened.
    check(not any(c["port"] == 25 and c["line"] == "(TLS ClientHello)"
                  for c in server.commands()), "a ClientHello was sent to port 25", s)
    check(any(c["port"] == 587 and c["line"] == "(TLS ClientHello)"
              for c in server.commands()), "no ClientHello reached port 587", s)
    verbs = {(c["port"], c["line"].split(" ")[0]) for c in server.commands()}
    for port in (25, 587, 2525):
        check((port, "STARTTLS") in verbs and (port, "QUIT") in verbs,
              "no STARTTLS and QUIT seen on %d: %r" % (port, sorted(verbs)), s)


@test
def t_issue_network():
    """587 dropped, 25 icmp-admin-prohibited, 2525 tcp-reset, 465 open: told apart, 465 best"""
    pair = Pair()
    server = Server(pair, ALL_OPEN)
    pair.server_iptables("-A", "INPUT", "-p", "tcp", "--dport", "587", "-j", "DROP")
    pair.server_iptables("-A", "INPUT", "-p", "tcp", "--dport", "25", "-j", "REJECT",
                         "--reject-with", "icmp-admin-prohibited")
    pair.server_iptables("-A", "INPUT", "-p", "tcp", "--dport", "2525", "-j", "REJECT",
                         "--reject-with", "tcp-reset")
    kernel_expect(pair, {25: "EHOSTUNREACH", 587: "timeout", 2525: "ECONNREFUSED",
                         465: "connected"})
    s = scan(pair)
    s.expect_complete()
    s.expect_port(25, "filtered", "type 3 code 13", pair.server_ip)
    s.expect_port(587, "timeout")
    s.expect_port(2525, "refused")
    s.expect(465, "tls", "ok", "TLS 1.")
    s.expect(465, "starttls", "mode-mismatch")
    check(s.report["control"]["result"] == "open", "control %r" % s.report["control"], s)
    s.expect_best(465, "tls")
    # Port 25 is rejected by the server's own address, its own firewall: only 587 is blocked on
    # the way.
    s.expect_diagnosis("some-ports-filtered")
    summary = s.report["diagnosis_summary"]
    check("Port 587 " in summary and "465" in summary and "25" not in summary,
          "diagnosis summary %r" % summary, s)
    # About one timeout: the dropped cells wait out their deadline, all at the same time.
    s.expect_elapsed(below_ms=TIMEOUT_MS * 3 // 2, above_ms=TIMEOUT_MS - 100)
    expect_harmless(server, s)


@test
def t_smtp_ports_filtered():
    """every SMTP port dropped, 443 answers with a reset: smtp-ports-filtered in one timeout"""
    pair = Pair()
    Server(pair, ALL_OPEN)
    for port in SMTP_PORTS:
        pair.server_iptables("-A", "INPUT", "-p", "tcp", "--dport", str(port), "-j", "DROP")
    pair.server_iptables("-A", "INPUT", "-p", "tcp", "--dport", str(CONTROL), "-j", "REJECT",
                         "--reject-with", "tcp-reset")
    kernel_expect(pair, {587: "timeout", CONTROL: "ECONNREFUSED"})
    s = scan(pair)
    s.expect_complete()
    for port in SMTP_PORTS:
        s.expect_port(port, "timeout")
    check(s.report["control"]["result"] == "refused", "control %r" % s.report["control"], s)
    s.expect_best(None, None)
    s.expect_diagnosis("smtp-ports-filtered")
    check("443" in s.report["diagnosis_summary"], "summary %r" % s.report["diagnosis_summary"],
          s)
    s.expect_elapsed(below_ms=TIMEOUT_MS * 3 // 2, above_ms=TIMEOUT_MS - 100)


@test
def t_port_25_blocked():
    """port 25 alone dropped, the others open: port-25-blocked, 465 with SSL/TLS best"""
    pair = Pair()
    Server(pair, ALL_OPEN)
    pair.server_iptables("-A", "INPUT", "-p", "tcp", "--dport", "25", "-j", "DROP")
    kernel_expect(pair, {25: "timeout", 587: "connected"})
    s = scan(pair)
    s.expect_complete()
    s.expect_port(25, "timeout")
    s.expect(587, "starttls", "ok")
    s.expect(465, "tls", "ok")
    s.expect_best(465, "tls")
    s.expect_diagnosis("port-25-blocked")
    s.expect_elapsed(below_ms=TIMEOUT_MS * 3 // 2)


@test
def t_host_offline():
    """everything dropped, 443 included: host-unreachable-or-offline"""
    pair = Pair()
    Server(pair, ALL_OPEN)
    pair.server_iptables("-A", "INPUT", "-p", "tcp", "-j", "DROP")
    s = scan(pair)
    s.expect_complete()
    for port in SMTP_PORTS:
        s.expect_port(port, "timeout")
    check(s.report["control"]["result"] == "timeout", "control %r" % s.report["control"], s)
    s.expect_best(None, None)
    s.expect_diagnosis("host-unreachable-or-offline")
    s.expect_elapsed(below_ms=TIMEOUT_MS * 3 // 2, above_ms=TIMEOUT_MS - 100)


@test
def t_prohibited_variants():
    """icmp-host-prohibited and icmp-net-prohibited are filtered; host-unreachable is not"""
    pair = Pair()
    Server(pair, ALL_OPEN)
    pair.server_iptables("-A", "INPUT", "-p", "tcp", "--dport", "25", "-j", "REJECT",
                         "--reject-with", "icmp-host-prohibited")
    pair.server_iptables("-A", "INPUT", "-p", "tcp", "--dport", "587", "-j", "REJECT",
                         "--reject-with", "icmp-net-prohibited")
    pair.server_iptables("-A", "INPUT", "-p", "tcp", "--dport", "2525", "-j", "REJECT",
                         "--reject-with", "icmp-host-unreachable")
    kernel_expect(pair, {25: "EHOSTUNREACH", 587: "ENETUNREACH", 2525: "EHOSTUNREACH"})
    s = scan(pair)
    s.expect_complete()
    s.expect_port(25, "filtered", "type 3 code 10")
    s.expect_port(587, "filtered", "type 3 code 9")
    s.expect_port(2525, "unreachable", "type 3 code 1 ")
    s.expect_best(465, "tls")
    # Every rejection came from the server itself: nothing on the way blocks anything.
    s.expect_diagnosis(None)
    s.expect_elapsed(below_ms=TIMEOUT_MS // 2)


@test
def t_network_blocks():
    """a router on the way drops 587 and rejects 25 (admin-prohibited): blocked by the network"""
    pair = Pair(router=True)
    server = Server(pair, ALL_OPEN)
    router_ip = "10.200.%d.254" % pair.n
    pair.router_iptables("-A", "FORWARD", "-p", "tcp", "--dport", "587", "-j", "DROP")
    pair.router_iptables("-A", "FORWARD", "-p", "tcp", "--dport", "25", "-j", "REJECT",
                         "--reject-with", "icmp-admin-prohibited")
    kernel_expect(pair, {25: "EHOSTUNREACH", 587: "timeout", 465: "connected"})
    s = scan(pair)
    s.expect_complete()
    c = s.expect(25, "tls", "filtered", "type 3 code 13", "from " + router_ip)
    check("on the way" in c["summary"] and router_ip in c["summary"],
          "summary %r" % c["summary"], s)
    s.expect_port(25, "filtered")
    s.expect_port(587, "timeout")
    s.expect(465, "tls", "ok")
    s.expect(2525, "starttls", "ok")
    s.expect_best(465, "tls")
    s.expect_diagnosis("some-ports-filtered")
    summary = s.report["diagnosis_summary"]
    check("25, 587" in summary and "465" in summary, "diagnosis summary %r" % summary, s)
    s.expect_elapsed(below_ms=TIMEOUT_MS * 3 // 2, above_ms=TIMEOUT_MS - 100)
    expect_harmless(server, s)

    # The classic ISP block: port 25 alone, rejected by the provider's router.
    pair.router_iptables("-F", "FORWARD")
    pair.router_iptables("-A", "FORWARD", "-p", "tcp", "--dport", "25", "-j", "REJECT",
                         "--reject-with", "icmp-admin-prohibited")
    s = scan(pair)
    s.expect_complete()
    s.expect_port(25, "filtered", "from " + router_ip)
    s.expect(587, "starttls", "ok")
    s.expect_best(465, "tls")
    s.expect_diagnosis("port-25-blocked")
    s.expect_elapsed(below_ms=TIMEOUT_MS // 2)


@test
def t_icmp_rate_limit():
    """every SMTP port rejected with ICMP, at Linux's own ICMP rate limit: refused, not silent"""
    # Eleven connections rejected at once would outrun the burst of six ICMP errors; the scan
    # sends one connection to each port first, and more only to a port that accepts one.
    pair = Pair(icmp_ratelimit=1000)
    Server(pair, ALL_OPEN)
    for port in SMTP_PORTS:
        pair.server_iptables("-A", "INPUT", "-p", "tcp", "--dport", str(port), "-j", "REJECT")
    s = scan(pair)
    s.expect_complete()
    for port in SMTP_PORTS:
        s.expect_port(port, "refused", "type 3 code 3")
    check(s.report["control"]["result"] == "open", "control %r" % s.report["control"], s)
    s.expect_best(None, None)
    s.expect_diagnosis("smtp-ports-closed")
    s.expect_elapsed(below_ms=TIMEOUT_MS // 2)


@test
def t_untrusted():
    """no --ca-file: TLS cells certificate-untrusted, no best, nothing sent over them"""
    pair = Pair()
    server = Server(pair, ALL_OPEN)
    s = scan(pair, ca=False)
    s.expect_complete()
    c = s.expect(465, "tls", "certificate-untrusted", "trusted authority")
    check("TLS 1." in c["summary"], "no TLS version in %r" % c["summary"], s)
    for port in (25, 587, 2525):
        s.expect(port, "starttls", "certificate-untrusted")
        s.expect(port, "none", "ok")
    # Plain text is not suggested where TLS is there but not trusted.
    s.expect_best(None, None)
    s.expect_diagnosis(None)
    expect_harmless(server, s, untrusted=True)


@test
def t_server_quirks():
    """plain text on 465, no STARTTLS on 587, 421 on 2525, silent 25: each told, 465 STARTTLS"""
    pair = Pair()
    server = Server(pair, {25: "silent", 465: "smtp", 587: "smtp-nostarttls", 2525: "busy",
                           CONTROL: "silent"})
    s = scan(pair)
    s.expect_complete()
    s.expect(465, "tls", "mode-mismatch", "220 sdscan.test")
    s.expect(465, "starttls", "ok")
    s.expect(587, "starttls", "starttls-not-offered")
    s.expect(587, "none", "ok")
    s.expect(2525, "tls", "mode-mismatch", "421")
    s.expect(2525, "starttls", "greeting-failed", "421")
    s.expect(2525, "none", "greeting-failed", "421")
    # A silent port 25 gets no ClientHello (postscreen): no greeting, nothing more to tell.
    s.expect_port(25, "greeting-failed")
    check(not any(c["port"] == 25 for c in server.commands()),
          "the silent port 25 was sent %r" % server.commands(), s)
    s.expect_best(465, "starttls")
    s.expect_diagnosis(None)
    s.expect_elapsed(below_ms=TIMEOUT_MS * 3 // 2, above_ms=TIMEOUT_MS - 100)
    expect_harmless(server, s)


@test
def t_by_name_and_cancel():
    """the host name resolved in the client namespace; a cancelled scan ends at once"""
    pair = Pair()
    Server(pair, ALL_OPEN)
    # Only this namespace's view of /etc/hosts and resolv.conf changes. The name server named
    # is the test's own server address, where nothing answers DNS: a quick failure.
    pair.client_etc("hosts", "127.0.0.1 localhost\n%s %s\n" % (pair.server_ip, HOST_NAME))
    pair.client_etc("resolv.conf", "nameserver %s\noptions timeout:1 attempts:1\n" %
                    pair.server_ip)
    s = scan(pair, host=HOST_NAME, address=False)
    s.expect_complete()
    check(s.report["address"] == pair.server_ip, "address %r" % s.report["address"], s)
    s.expect(465, "tls", "ok")
    s.expect(587, "starttls", "ok")
    s.expect_best(465, "tls")

    pair.server_iptables("-A", "INPUT", "-p", "tcp", "--dport", "587", "-j", "DROP")
    s = scan(pair, "--cancel-after", "400", host=HOST_NAME, address=False)
    check(s.report["error"] is not None and "cancel" in s.report["error"].lower(),
          "error %r" % s.report["error"], s)
    s.expect_complete()
    s.expect_port(587, "cancelled")
    s.expect(465, "tls", "ok")
    s.expect_diagnosis(None)
    s.expect_elapsed(below_ms=1000)

    s = scan(pair, host="nowhere.sdscan.test", address=False)
    check(s.report["error"] is not None, "no error for a name that does not resolve", s)
    check(s.report["address"] is None, "address %r" % s.report["address"], s)
    s.expect_complete()
    for port in SMTP_PORTS:
        s.expect_port(port, "not-tried")
    s.expect_best(None, None)
    s.expect_diagnosis(None)


if __name__ == "__main__":
    main()
