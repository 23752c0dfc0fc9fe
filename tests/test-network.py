#!/usr/bin/python3
"""How smtp-doctor-cli classifies TCP connect failures, with the real kernel doing the failing.

Every case runs in a network namespace made here (sdtest-<pid>-<n>) and deleted afterwards, also
on failure: lo is brought up, a tiny listener runs on 127.0.0.1 inside it, iptables/ip6tables
rules (in that namespace only) make the connection fail in one particular way, and the CLI runs
inside the namespace. Traffic only ever goes to 127.0.0.1 and ::1 inside those namespaces.

Each case first makes the same connection with a plain Python socket in the namespace, so that a
kernel that behaves differently from what the case assumes is reported as such, apart from a
misclassification by the CLI.

Needs root, iproute2 and iptables. Prints TAP. Environment: DOCTOR_CLI (the binary).
"""

import errno
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import sys
import time
import traceback

CLI = os.environ.get("DOCTOR_CLI", "")
PYTHON = "/usr/bin/python3"
PORT = 2525          # every namespace is new, so a fixed port never collides
CLI_DEADLINE = 2     # the CLI's --timeout
CMD_TIMEOUT = 10     # seconds, for every helper command (ip, iptables, getent)
CLI_TIMEOUT = 20     # seconds, for each run of the binary (a hang is reported, not waited out)

AFTER_CONNECT = ["tls", "greeting", "ehlo", "starttls", "certificate", "auth", "send"]


# --------------------------------------------------------------------------------------------
# A tiny TAP harness (as in test-cli.py)


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


def run_cleanups():
    while CLEANUPS:
        try:
            CLEANUPS.pop()()
        except Exception:
            diag("cleanup: " + traceback.format_exc())


def on_signal(signum, frame):
    # meson's timeout (SIGTERM) or ^C: leave no namespace behind.
    run_cleanups()
    print("Bail out! killed by signal %d" % signum, flush=True)
    os._exit(1)


def missing_tools():
    if os.geteuid() != 0:
        return "not root: network namespaces need root"
    for tool in ("ip", "iptables", "ip6tables", "getent"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    return None


def main():
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    why = missing_tools()
    if why is not None and why.startswith("not root"):
        print("1..0 # SKIP " + why, flush=True)
        sys.exit(0)
    print("1..%d" % len(TESTS), flush=True)
    failed = 0
    t_start = time.monotonic()
    for n, fn in enumerate(TESTS, 1):
        name = (fn.__doc__ or fn.__name__).strip().splitlines()[0]
        try:
            if why is not None:
                raise Failure(why)
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
            run_cleanups()
        sys.stdout.flush()
    diag("all cases: %.1f s" % (time.monotonic() - t_start))
    sys.exit(1 if failed else 0)


# --------------------------------------------------------------------------------------------
# Namespaces, commands, listeners


_ns_counter = 0


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


class Namespace:
    def __init__(self):
        global _ns_counter
        _ns_counter += 1
        self.name = "sdtest-%d-%d" % (os.getpid(), _ns_counter)
        self.etc = None
        sh("ip", "netns", "add", self.name)
        CLEANUPS.append(self.delete)
        self.exec("ip", "link", "set", "lo", "up")

    def argv(self, *argv):
        return ["ip", "netns", "exec", self.name] + list(argv)

    def exec(self, *argv, ok=True):
        return sh(*self.argv(*argv), ok=ok)

    def iptables(self, *rule):
        self.exec("iptables", *rule)

    def ip6tables(self, *rule):
        self.exec("ip6tables", *rule)

    def hosts_file(self, text):
        """A hosts file for this namespace only: `ip netns exec` bind-mounts
        /etc/netns/NAME/hosts over /etc/hosts in its own mount namespace. The shared /etc/hosts
        is not touched."""
        self.made_parent = not os.path.isdir("/etc/netns")
        self.etc = os.path.join("/etc/netns", self.name)
        os.makedirs(self.etc)
        with open(os.path.join(self.etc, "hosts"), "w") as f:
            f.write(text)

    def delete(self):
        try:
            sh("ip", "netns", "del", self.name, ok=False)
        finally:
            if self.etc is not None:
                shutil.rmtree(self.etc, ignore_errors=True)
                if self.made_parent:
                    try:
                        os.rmdir("/etc/netns")
                    except OSError:
                        pass
        rc, out, _ = sh("ip", "netns", "list", ok=False)
        if any(line.split()[:1] == [self.name] for line in out.splitlines()):
            raise Failure("namespace %s is still there after ip netns del" % self.name)


# Listens on 127.0.0.1:PORT; prints "ready"; for each connection sends "220 ok" and closes.
# Ends when its standard input closes (the test went away) or after 60 s at most.
LISTENER = r"""
import select, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
print("ready", flush=True)
end = time.monotonic() + 60
while time.monotonic() < end:
    r, _, _ = select.select([s, sys.stdin], [], [], 0.5)
    if sys.stdin in r and not sys.stdin.buffer.read1(1):
        break
    if s in r:
        c, _ = s.accept()
        try:
            c.settimeout(2)
            c.sendall(b"220 ok\r\n")
        except OSError:
            pass
        c.close()
"""


def start_listener(ns, port=PORT):
    p = subprocess.Popen(ns.argv(PYTHON, "-c", LISTENER, str(port)), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def stop():
        try:
            p.stdin.close()
        except OSError:
            pass
        try:
            p.wait(3)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(3)

    CLEANUPS.append(stop)
    r, _, _ = select.select([p.stdout], [], [], CMD_TIMEOUT)
    line = p.stdout.readline() if r else b""
    if line.strip() != b"ready":
        stop()
        raise Failure("the listener in %s did not start: %r %r" % (ns.name, line,
                                                                   p.stderr.read()))


# A plain connect() from inside the namespace: what the kernel itself reports.
PROBE = r"""
import errno, socket, sys, time
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
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


def kernel_probe(ns, address="127.0.0.1", port=PORT, wait=CLI_DEADLINE):
    """Returns (result, seconds): 'connected', 'timeout' or an errno name like 'ECONNREFUSED'."""
    _, out, err = ns.exec(PYTHON, "-c", PROBE, address, str(port), str(wait))
    try:
        res, secs = out.split()
        return res, float(secs)
    except ValueError:
        raise Failure("the probe printed %r %r" % (out, err))


# --------------------------------------------------------------------------------------------
# Running the binary inside a namespace


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
        for c in self.report.get("checks", []):
            if c.get("id") == cid:
                return c
        raise Failure("no check %r in the report\n%s" % (cid, self.describe()))

    def describe(self):
        def cut(s):
            return s if len(s) < 4000 else s[:4000] + "\n[... cut ...]"
        return "command: %s\nexit status: %s (%.2f s)\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(self.args), self.rc, self.elapsed, cut(self.out), cut(self.err))


def run_cli(ns, target, *args):
    argv = ns.argv(CLI, "--json", "--timeout", str(CLI_DEADLINE), *args, target)
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=CLI_TIMEOUT, errors="replace")
    except subprocess.TimeoutExpired as e:
        raise Failure("timed out after %s s: %s\nstdout so far:\n%s\nstderr so far:\n%s" % (
            CLI_TIMEOUT, " ".join(argv), e.stdout, e.stderr))
    return Run(argv, p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


def expect_connect_failure(run, reason):
    """connect fails with reason, exit status 2, the later checks skipped."""
    c = run.check_by_id("connect")
    check(c["status"] == "fail" and c["reason"] == reason,
          "check connect: expected fail/%s, got %s/%s (%s)" % (reason, c["status"], c["reason"],
                                                              c["summary"]), run)
    check(run.rc == 2, "expected exit status 2", run)
    check(run.report.get("verdict") == "fail", "verdict %r" % run.report.get("verdict"), run)
    check(run.check_by_id("dns")["status"] == "pass", "dns did not pass", run)
    for cid in AFTER_CONNECT:
        st = run.check_by_id(cid)["status"]
        check(st == "skipped", "check %s is %s after connect failed" % (cid, st), run)
    facts = json.dumps(c["details"])
    check("127.0.0.1" in facts, "the address is not in the connect details", run)
    return c


def firewall_case(setup, kernel_expect, reason, max_seconds=None, min_seconds=None):
    """One namespace with a listener on 127.0.0.1:PORT and the rules from setup(ns); first the
    kernel's own verdict on a plain connect(), then the CLI's."""
    ns = Namespace()
    start_listener(ns)
    setup(ns)
    got, secs = kernel_probe(ns)
    check(got == kernel_expect,
          "the kernel does not behave as this case assumes: a plain connect() to 127.0.0.1:%d "
          "gave %s after %.3f s, expected %s (this is not about the CLI)" %
          (PORT, got, secs, kernel_expect))
    r = run_cli(ns, "127.0.0.1:%d" % PORT)
    c = expect_connect_failure(r, reason)
    if max_seconds is not None:
        check(r.elapsed < max_seconds, "took %.2f s, expected under %.2f s" %
              (r.elapsed, max_seconds), r)
    if min_seconds is not None:
        check(r.elapsed >= min_seconds, "took only %.2f s, the deadline is %d s" %
              (r.elapsed, CLI_DEADLINE), r)
    diag("kernel: %s in %.3f s; CLI: %s in %.2f s; %s" % (
        got, secs, c["reason"], r.elapsed, json.dumps(c["details"].get("attempts"))))
    return r


def output_rule(*target):
    def setup(ns):
        ns.iptables("-A", "OUTPUT", "-p", "tcp", "--dport", str(PORT), *target)
    return setup


# --------------------------------------------------------------------------------------------
# The cases


@test
def t_baseline():
    """no rule: the listener in the namespace is reached, connect passes"""
    ns = Namespace()
    start_listener(ns)
    got, _ = kernel_probe(ns)
    check(got == "connected", "a plain connect() in the namespace gave %s" % got)
    r = run_cli(ns, "127.0.0.1:%d" % PORT, "-s", "none")
    c = r.check_by_id("connect")
    check(c["status"] == "pass", "connect %s/%s" % (c["status"], c["reason"]), r)
    check(r.check_by_id("greeting")["status"] == "pass", "greeting did not pass", r)
    check(r.rc in (1, 2), "expected exit status 1 or 2 (the listener closes after 220)", r)


@test
def t_output_drop():
    """OUTPUT DROP: the kernel drops the SYN without telling connect() -> connection-timeout"""
    # Not EPERM: tcp_connect() ignores the -EPERM of a netfilter drop (only ECONNREFUSED is
    # passed up) and retransmits the SYN until the caller's deadline, so this is a timeout.
    # The EPERM/EACCES path is exercised by t_route_prohibit below.
    firewall_case(output_rule("-j", "DROP"), "timeout", "connection-timeout",
                  max_seconds=CLI_DEADLINE + 1.5, min_seconds=CLI_DEADLINE - 0.5)


@test
def t_route_prohibit():
    """a local "prohibit" policy rule: connect() gets EACCES at once -> connection-filtered, < 1 s"""
    def setup(ns):
        # The "local" table's rule is moved behind ours, inside this namespace only.
        ns.exec("ip", "rule", "add", "pref", "100", "lookup", "local")
        ns.exec("ip", "rule", "del", "pref", "0", "lookup", "local")
        ns.exec("ip", "rule", "add", "pref", "10", "to", "127.0.0.1", "ipproto", "tcp",
                "dport", str(PORT), "prohibit")
    firewall_case(setup, "EACCES", "connection-filtered", max_seconds=1.0)


@test
def t_input_syn_drop():
    """INPUT --syn DROP (a silent remote firewall): connection-timeout within timeout + 1.5 s"""
    def setup(ns):
        ns.iptables("-A", "INPUT", "-p", "tcp", "--dport", str(PORT), "--syn", "-j", "DROP")
    firewall_case(setup, "timeout", "connection-timeout",
                  max_seconds=CLI_DEADLINE + 1.5, min_seconds=CLI_DEADLINE - 0.5)


@test
def t_reject_tcp_reset():
    """OUTPUT REJECT --reject-with tcp-reset: connection-refused"""
    firewall_case(output_rule("-j", "REJECT", "--reject-with", "tcp-reset"),
                  "ECONNREFUSED", "connection-refused", max_seconds=CLI_DEADLINE)


@test
def t_reject_port_unreachable():
    """OUTPUT REJECT --reject-with icmp-port-unreachable: connection-refused"""
    firewall_case(output_rule("-j", "REJECT", "--reject-with", "icmp-port-unreachable"),
                  "ECONNREFUSED", "connection-refused", max_seconds=CLI_DEADLINE)


@test
def t_reject_host_unreachable():
    """OUTPUT REJECT --reject-with icmp-host-unreachable: host-unreachable"""
    firewall_case(output_rule("-j", "REJECT", "--reject-with", "icmp-host-unreachable"),
                  "EHOSTUNREACH", "host-unreachable", max_seconds=CLI_DEADLINE)


@test
def t_reject_net_unreachable():
    """OUTPUT REJECT --reject-with icmp-net-unreachable: network-unreachable"""
    firewall_case(output_rule("-j", "REJECT", "--reject-with", "icmp-net-unreachable"),
                  "ENETUNREACH", "network-unreachable", max_seconds=CLI_DEADLINE)


@test
def t_ipv6_broken_ipv4_works():
    """localhost, ::1 rejected by ip6tables, 127.0.0.1 answers: connect warns ipv6-broken"""
    ns = Namespace()
    _, out, _ = ns.exec("getent", "ahosts", "localhost", ok=False)
    found = {line.split()[0] for line in out.splitlines() if line.split()}
    if not {"127.0.0.1", "::1"} <= found:
        # Only this namespace's view of /etc/hosts changes; the shared file stays as it is.
        ns.hosts_file("127.0.0.1 localhost\n::1 localhost\n")
        _, out, _ = ns.exec("getent", "ahosts", "localhost", ok=False)
        found = {line.split()[0] for line in out.splitlines() if line.split()}
        diag("localhost had no ::1 here: a hosts file for %s only" % ns.name)
    check({"127.0.0.1", "::1"} <= found,
          "localhost does not resolve to both ::1 and 127.0.0.1 in the namespace: %r" % out)
    start_listener(ns)
    ns.ip6tables("-A", "OUTPUT", "-p", "tcp", "--dport", str(PORT), "-j", "REJECT",
                 "--reject-with", "tcp-reset")
    got6, _ = kernel_probe(ns, "::1")
    got4, _ = kernel_probe(ns, "127.0.0.1")
    check((got6, got4) == ("ECONNREFUSED", "connected"),
          "the kernel does not behave as this case assumes: ::1 gave %s (expected "
          "ECONNREFUSED), 127.0.0.1 gave %s (expected connected)" % (got6, got4))
    r = run_cli(ns, "localhost:%d" % PORT, "-s", "none")
    dns = r.check_by_id("dns")
    check(dns["status"] == "pass", "dns %s/%s" % (dns["status"], dns["reason"]), r)
    addrs = dns["details"].get("addresses", [])
    check("::1" in addrs and "127.0.0.1" in addrs, "dns addresses %r" % (addrs,), r)
    c = r.check_by_id("connect")
    # It works over IPv4, but a program that takes only the first address (::1) fails.
    check(c["status"] == "warn" and c["reason"] == "ipv6-broken",
          "connect %s/%s (%s)" % (c["status"], c["reason"], c["summary"]), r)
    check(any("IPv6" in a["title"] for a in c["advice"]), "no IPv6 advice", r)
    d = c["details"]
    check(d.get("ipv4-result") == "connected", "ipv4-result %r" % d.get("ipv4-result"), r)
    check(d.get("ipv6-result") in ("refused", "filtered"),
          "ipv6-result %r, expected refused (or filtered)" % d.get("ipv6-result"), r)
    attempts = d.get("attempts")
    check(isinstance(attempts, list) and len(attempts) >= 2, "attempts %r" % (attempts,), r)
    check(any("::1" in a for a in attempts), "no attempt names ::1: %r" % (attempts,), r)
    check(any("127.0.0.1" in a for a in attempts),
          "no attempt names 127.0.0.1: %r" % (attempts,), r)
    check(r.check_by_id("greeting")["status"] == "pass", "greeting did not pass", r)
    diag("attempts: %s" % json.dumps(attempts))


@test
def t_scan_ports_cli():
    """--scan-ports: the matrix runs beside the main check, in about one timeout, into the JSON"""
    ns = Namespace()
    # 587 silently dropped, the rest refused (nothing listens in the namespace).
    ns.iptables("-A", "INPUT", "-p", "tcp", "--dport", "587", "--syn", "-j", "DROP")
    r = run_cli(ns, "127.0.0.1:587", "--scan-ports")
    check(r.rc == 2, "expected a failure", r)
    ports = r.report.get("ports")
    check(isinstance(ports, list) and len(ports) >= 8, "the ports array is missing", r)
    seen = {(c["port"], c["security"]): c for c in ports}
    for port in (25, 465, 587, 2525):
        check(any(p == port for p, _ in seen), "port %d is not in the matrix" % port, r)
    for c in ports:
        check(c["security"] in ("starttls", "tls", "none") and c.get("result"),
              "a cell without security or result: %r" % c, r)
        check(c["result"] == ("timeout" if c["port"] == 587 else "refused"),
              "cell %d/%s: %s" % (c["port"], c["security"], c["result"]), r)
    check("network" in r.report and "conclusion" in r.report["network"], "no network object", r)
    # The main check and the matrix wait together: one timeout, not two.
    check(r.elapsed < CLI_DEADLINE * 1.5 + 1.0,
          "took %.2f s with a %d s timeout" % (r.elapsed, CLI_DEADLINE), r)
    check(r.check_by_id("connect")["reason"] == "connection-timeout", "connect reason", r)


# An implicit-TLS SMTP server on 127.0.0.1:465 with the certificate and key given: greets,
# answers EHLO and QUIT. Prints "ready"; ends when its standard input closes or after 60 s.
TLS_SERVER = r"""
import select, socket, ssl, sys, time
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 465))
s.listen(8)
print("ready", flush=True)
end = time.monotonic() + 60
while time.monotonic() < end:
    r, _, _ = select.select([s, sys.stdin], [], [], 0.5)
    if sys.stdin in r and not sys.stdin.buffer.read1(1):
        break
    if s not in r:
        continue
    c, _ = s.accept()
    try:
        c.settimeout(3)
        t = ctx.wrap_socket(c, server_side=True)
        t.sendall(b"220 smtp.gmail.com ESMTP test\r\n")
        f = t.makefile("rb")
        for line in f:
            cmd = line.strip().upper()
            if cmd.startswith(b"EHLO"):
                t.sendall(b"250-smtp.gmail.com\r\n250 AUTH PLAIN LOGIN\r\n")
            elif cmd.startswith(b"QUIT"):
                t.sendall(b"221 bye\r\n")
                break
            else:
                t.sendall(b"502 no\r\n")
    except (OSError, ssl.SSLError):
        pass
    finally:
        c.close()
"""


@test
def t_certificate_intercepted():
    """a trusted certificate for smtp.gmail.com that Google did not issue: intercepted"""
    ns = Namespace()
    ns.hosts_file("127.0.0.1 smtp.gmail.com\n")
    work = tempfile.mkdtemp(prefix="smtp-doctor-intercept-")
    CLEANUPS.append(lambda: shutil.rmtree(work, ignore_errors=True))
    certs = os.environ.get("DOCTOR_TEST_CERTS", "")
    key, csr, crt, ext = (os.path.join(work, n) for n in ("k.pem", "r.csr", "c.pem", "ext"))
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:smtp.gmail.com\n")
    sh("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
       "-nodes", "-keyout", key, "-subj", "/O=Corporate Inspection/CN=smtp.gmail.com",
       "-out", csr)
    sh("openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(certs, "ca.pem"),
       "-CAkey", os.path.join(certs, "ca-key.pem"), "-CAcreateserial", "-days", "30",
       "-extfile", ext, "-out", crt)
    p = subprocess.Popen(ns.argv(PYTHON, "-c", TLS_SERVER, crt, key), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def stop():
        try:
            p.stdin.close()
        except OSError:
            pass
        try:
            p.wait(3)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(3)

    CLEANUPS.append(stop)
    r, _, _ = select.select([p.stdout], [], [], CMD_TIMEOUT)
    check(r and p.stdout.readline().strip() == b"ready", "the TLS server did not start")

    r = run_cli(ns, "smtp.gmail.com:465", "--ca-file", os.path.join(certs, "ca.pem"))
    c = r.check_by_id("certificate")
    check(c["status"] == "warn" and c["reason"] == "certificate-intercepted",
          "certificate %s/%s (%s)" % (c["status"], c["reason"], c["summary"]), r)
    check("Google Trust Services" in c["summary"], "the expected issuer is not named", r)
    check(c["advice"], "no advice", r)


if __name__ == "__main__":
    main()
