#!/usr/bin/python3
"""Profiles under faults, through smtp-doctor-cli's profile commands.

The rule under test: whatever happens to a save, profiles.json is afterwards the old file or
the new one, whole, and a save that did not happen is an error the user sees (a message naming
the file, exit status 2 as DESIGN.md says for a failure), never a silent loss.

Faults, all real: SIGKILL at random points of a save (the seed is printed; DOCTOR_FAULTS_SEED
repeats a run) and at each system call of a save in turn (strace's fault injection), a full tmpfs (no space, and no inode), a read-only bind mount, a file and a
folder that permissions close to a root without CAP_DAC_OVERRIDE (setpriv), symbolic links
(to profiles, to some other file, dangling, a loop, a linked folder), damaged files (truncated,
empty, a directory, a FIFO, a huge and a sparse huge file), each kept aside byte for byte.

The mounts need a mount namespace of the test's own: the script runs itself again under
`unshare -m --propagation private`, so that nothing it mounts is seen outside, and every mount
dies with the namespace even if the test is killed. If the namespace or a mount cannot be made,
the test fails: it does not skip. Prints TAP. Environment: DOCTOR_CLI (the binary).
"""

import errno
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import traceback
import uuid

CLI = os.environ.get("DOCTOR_CLI", "")
NS_MARK = "DOCTOR_FAULTS_IN_NAMESPACE"
KILL_ROUNDS = 200
TIMEOUT = 30


class Failure(Exception):
    pass


def check(cond, message, result=None):
    if not cond:
        if result is not None:
            message += "\n  rc=%r\n  stdout=%r\n  stderr=%r" % (result.returncode, result.stdout,
                                                                result.stderr)
        raise Failure(message)


TESTS = []
CLEANUPS = []


def test(fn):
    TESTS.append(fn)
    return fn


def run(cmd, check_rc=True):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    if check_rc and p.returncode != 0:
        raise Failure("%r failed: %s%s" % (cmd, p.stdout, p.stderr))
    return p


class Config:
    """An XDG_CONFIG_HOME of its own; dir is its smtp-doctor folder, path the profiles file."""

    def __init__(self, make_dir=True):
        self.home = tempfile.mkdtemp(prefix="smtp-doctor-faults-")
        CLEANUPS.append(lambda: shutil.rmtree(self.home, ignore_errors=True))
        self.dir = os.path.join(self.home, "smtp-doctor")
        self.path = os.path.join(self.dir, "profiles.json")
        if make_dir:
            os.mkdir(self.dir, 0o700)

    def env(self, traced=False):
        # No session bus: nothing here touches the keyring (no password is given).
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.home,
               "XDG_CONFIG_HOME": self.home, "LC_ALL": "C.UTF-8",
               "G_DEBUG": "fatal-criticals"}
        # A sanitizer build keeps its settings; LeakSanitizer cannot run under ptrace.
        for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if name in os.environ:
                env[name] = os.environ[name]
        if traced:
            env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        return env

    def cli_args(self, *args, prefix=()):
        return list(prefix) + [CLI] + list(args)

    def cli(self, *args, prefix=()):
        return subprocess.run(self.cli_args(*args, prefix=prefix), capture_output=True,
                              text=True, timeout=TIMEOUT, env=self.env())

    def save(self, name, prefix=()):
        return self.cli("--save-profile", name, "--timeout", "5", "127.0.0.1:2525",
                        prefix=prefix)

    def names(self):
        r = self.cli("--list-profiles", "--json")
        check(r.returncode == 0, "--list-profiles failed", r)
        return [p["name"] for p in json.loads(r.stdout)]

    def read(self):
        with open(self.path, "rb") as f:
            return f.read()

    def write(self, data):
        with open(self.path, "wb") as f:
            f.write(data)

    def kept(self):
        return sorted(n for n in os.listdir(self.dir) if n.startswith("profiles.json.corrupt-"))

    def strays(self):
        """Entries in the folder that are neither the file, its lock nor a kept damaged file."""
        return sorted(n for n in os.listdir(self.dir)
                      if n not in ("profiles.json", "profiles.json.lock")
                      and not n.startswith("profiles.json.corrupt-"))


def document(names):
    profiles = [{"uuid": str(uuid.UUID(int=random.getrandbits(128), version=4)), "name": n,
                 "host": "smtp-%d.example.com" % i, "port": 587, "security": "starttls",
                 "user": "user%d@example.com" % i, "mail_from": "from%d@example.com" % i}
                for i, n in enumerate(names)]
    return (json.dumps({"version": 1, "profiles": profiles}, indent=2) + "\n").encode()


def mount(*args):
    run(["mount"] + list(args))
    CLEANUPS.append(lambda: subprocess.run(["umount", "-l", args[-1]], capture_output=True))


def tmpfs(where, options):
    mount("-t", "tmpfs", "-o", options, "tmpfs", where)
    os.chmod(where, 0o700)


def bind_read_only(where):
    mount("--bind", where, where)
    run(["mount", "-o", "remount,bind,ro", where])
    # Root ignores permissions, not a read-only mount; make sure that is what we have.
    probe = os.path.join(where, "probe")
    try:
        with open(probe, "w"):
            pass
    except OSError as e:
        check(e.errno == errno.EROFS, "the read-only mount refused with %r" % e)
    else:
        os.unlink(probe)
        raise Failure("the read-only bind mount of %s accepts writes" % where)


# Root without the capabilities that let it ignore permissions: what an ordinary user meets.
NO_DAC = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--inh-caps",
          "-dac_override,-dac_read_search", "--")


def check_no_dac_binds(path, write):
    if write:
        cmd = list(NO_DAC) + ["touch", os.path.join(path, "probe")]
    else:
        cmd = list(NO_DAC) + ["cat", path]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    check(p.returncode != 0 and "Permission denied" in p.stderr,
          "setpriv did not take the permission override away: %r" % (p,))


def check_failed(r, *words):
    check(r.returncode == 2, "the save must fail with exit status 2", r)
    for word in words:
        check(word in r.stderr, "the message does not say %r" % word, r)


def check_private(path):
    st = os.lstat(path)
    check(stat.S_ISREG(st.st_mode), "%s is not a regular file" % path)
    check(stat.S_IMODE(st.st_mode) == 0o600, "%s has mode %o" % (path, stat.S_IMODE(st.st_mode)))


# SIGKILL -----------------------------------------------------------------------------------

@test
def t_sigkill_during_save():
    """a save killed at random points leaves the old or the new file, whole"""
    seed = int(os.environ.get("DOCTOR_FAULTS_SEED", "0")) or random.SystemRandom().randrange(1 << 32)
    print("# seed %d (DOCTOR_FAULTS_SEED=%d repeats this run)" % (seed, seed), flush=True)
    rng = random.Random(seed)

    c = Config()
    # Large enough (about 250 KiB) that writing it takes a while, small enough that 200 saves
    # stay quick in a sanitizer build.
    c.write(document(["base %d" % i for i in range(1000)]))
    os.chmod(c.path, 0o600)

    # How long a whole save takes, so that the kills spread over all of it.
    times = []
    for i in range(5):
        start = time.monotonic()
        check(c.save("warm %d" % i).returncode == 0, "a save failed")
        times.append(time.monotonic() - start)
    span = sorted(times)[len(times) // 2] * 1.3

    old = c.read()
    old_names = json.loads(old)["profiles"]
    outcomes = {"old": 0, "new": 0}
    for i in range(KILL_ROUNDS):
        name = "killed %d" % i
        delay_us = rng.randrange(int(span * 1e6))
        p = subprocess.Popen(c.cli_args("--save-profile", name, "127.0.0.1:2525"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=c.env())
        time.sleep(delay_us / 1e6)
        p.send_signal(signal.SIGKILL)
        p.wait()

        data = c.read()
        try:
            profiles = json.loads(data)["profiles"]
        except ValueError as e:
            raise Failure("round %d (kill after %d µs): profiles.json does not parse: %s"
                          % (i, delay_us, e))
        names = [x["name"] for x in profiles]
        if data == old:
            outcomes["old"] += 1
        else:
            check(names == [x["name"] for x in old_names] + [name],
                  "round %d (kill after %d µs): the file is neither the old nor the new one"
                  % (i, delay_us))
            check_private(c.path)
            outcomes["new"] += 1
            old, old_names = data, profiles

    print("# %d kills: old file %d times, new file %d times" % (
        KILL_ROUNDS, outcomes["old"], outcomes["new"]), flush=True)
    # Kills that all came too early or too late would prove nothing.
    check(outcomes["old"] > 0 and outcomes["new"] > 0, "the kills missed the save: %r" % outcomes)

    # What the killed saves left behind is never taken for profiles, and the next save works
    # and clears it.
    print("# %d temporary files left by saves killed while writing" % len(c.strays()), flush=True)
    check(c.names() == [x["name"] for x in old_names], "the listed profiles are not the file's")
    r = c.save("after")
    check(r.returncode == 0, "the save after the kills failed", r)
    check(c.names()[-1] == "after", "the last save is not in the file")
    check(c.strays() == [], "temporary files are left: %r" % c.strays())
    check(c.kept() == [], "a good file was taken for a damaged one: %r" % c.kept())


@test
def t_sigkill_at_each_syscall():
    """a save killed at each of its system calls in turn leaves the old or the new file"""
    c = Config()
    c.write(document(["base %d" % i for i in range(50)]))
    os.chmod(c.path, 0o600)
    check(c.save("warm").returncode == 0, "a save failed")

    # The system calls of one save, in order, each as (name, how many of that name so far).
    trace = os.path.join(c.home, "trace")
    r = subprocess.run(["strace", "-f", "-qq", "-o", trace] +
                       c.cli_args("--save-profile", "traced", "127.0.0.1:2525"),
                       capture_output=True, text=True, timeout=TIMEOUT, env=c.env(traced=True))
    check(r.returncode == 0, "the traced save failed", r)
    calls, counts = [], {}
    with open(trace) as f:
        for line in f:
            parts = line.split(None, 1)
            if len(parts) < 2 or "(" not in parts[1] or parts[1].startswith(("+++", "---", "<")):
                continue
            name = parts[1].split("(", 1)[0]
            counts[name] = counts.get(name, 0) + 1
            calls.append((name, counts[name], parts[1].strip()))
    # From the save's lock on (the load before it takes the lock too, so the last one).
    locks = [i for i, c_ in enumerate(calls) if "profiles.json.lock" in c_[2]]
    check(locks, "the trace has no lock: %r" % calls[-20:])
    points = calls[locks[-1]:]
    check(any(n == "rename" for n, _, _ in points), "the trace has no rename")

    old = c.read()
    old_names = [x["name"] for x in json.loads(old)["profiles"]]
    killed = temporary = 0
    for i, (name, n, text) in enumerate(points):
        profile = "killed %d" % i
        r = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=" + name,
                            "-e", "inject=%s:signal=KILL:when=%d" % (name, n)] +
                           c.cli_args("--save-profile", profile, "127.0.0.1:2525"),
                           capture_output=True, text=True, timeout=TIMEOUT,
                           env=c.env(traced=True))
        if r.returncode != 0:
            killed += 1
        data = c.read()
        try:
            names = [x["name"] for x in json.loads(data)["profiles"]]
        except ValueError as e:
            raise Failure("killed at %s #%d (%s): profiles.json does not parse: %s"
                          % (name, n, text, e))
        if data != old:
            check(names == old_names + [profile],
                  "killed at %s #%d (%s): neither the old nor the new file" % (name, n, text))
            check_private(c.path)
            old, old_names = data, names
        if c.strays():
            temporary += 1
            # The next save clears it; the next round starts from a clean folder.
            r = c.save("clean %d" % i)
            check(r.returncode == 0 and c.strays() == [], "the leftover was not cleared", r)
            old = c.read()
            old_names = [x["name"] for x in json.loads(old)["profiles"]]

    print("# %d points from the lock on, %d killed, %d left a temporary file"
          % (len(points), killed, temporary), flush=True)
    # Kills that never came between the temporary file and the rename would prove little.
    check(killed > 0 and temporary > 0, "no kill landed in the write")
    check(c.kept() == [], "a good file was taken for a damaged one: %r" % c.kept())


# Full disk ---------------------------------------------------------------------------------

@test
def t_no_space():
    """a full disk: the save fails and says so, the old file is whole, no temporary file"""
    c = Config(make_dir=False)
    os.mkdir(c.dir)
    tmpfs(c.dir, "size=128k")
    old = document(["disk %d" % i for i in range(110)])
    check(20000 < len(old) < 32000, "the test's file has an unexpected size %d" % len(old))
    c.write(old)
    os.chmod(c.path, 0o600)
    check(c.names()[0] == "disk 0", "the file does not load")

    # Fill what is left, but for less than a copy of the file.
    filler = os.path.join(c.dir, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"x" * 4096)
    except OSError as e:
        check(e.errno == errno.ENOSPC, "filling the disk failed with %r" % e)
    os.ftruncate(fd, os.fstat(fd).st_size - 8192)
    os.close(fd)

    r = c.save("one more")
    check_failed(r, "No space left on device", c.path)
    check(c.read() == old, "the old file changed")
    check(c.strays() == ["filler"], "a temporary file is left: %r" % c.strays())

    # With room again, the same save works.
    os.unlink(filler)
    r = c.save("one more")
    check(r.returncode == 0, "the save failed with room on the disk", r)
    check(c.names()[-1] == "one more", "the profile is not saved")


@test
def t_no_inode():
    """no inode left for the temporary file: an error, the old file whole"""
    c = Config(make_dir=False)
    os.mkdir(c.dir)
    # The folder, profiles.json and its lock: nothing more can be created.
    tmpfs(c.dir, "size=256k,nr_inodes=3")
    check(c.save("first").returncode == 0, "the first save failed")
    old = c.read()
    try:
        open(os.path.join(c.dir, "probe"), "w").close()
    except OSError as e:
        check(e.errno == errno.ENOSPC, "creating a file failed with %r" % e)
    else:
        raise Failure("the tmpfs has inodes left")

    r = c.save("second")
    check_failed(r, "No space left on device", c.path)
    check(c.read() == old, "the old file changed")
    check(c.strays() == [], "a temporary file is left: %r" % c.strays())


# Read-only ---------------------------------------------------------------------------------

@test
def t_read_only_folder():
    """a read-only config folder: the profiles list, a save or delete fails and says so"""
    c = Config()
    check(c.save("kept").returncode == 0, "the first save failed")
    old = c.read()
    bind_read_only(c.dir)

    check(c.names() == ["kept"], "the profiles do not list from a read-only folder")
    r = c.save("new")
    check_failed(r, "Read-only file system", c.path)
    r = c.cli("--delete-profile", "kept")
    check_failed(r, "Read-only file system", c.path)
    check(c.read() == old, "the file changed")


@test
def t_read_only_parent():
    """a read-only XDG_CONFIG_HOME without the folder: the save says it cannot create it"""
    c = Config(make_dir=False)
    bind_read_only(c.home)
    r = c.save("new")
    check_failed(r, "Read-only file system", c.dir)
    check(not os.path.exists(c.dir), "the folder exists")


@test
def t_read_only_damaged():
    """a damaged file in a read-only folder is left in place, reported, never replaced"""
    c = Config()
    damaged = b'{"version": 1, "profiles": [{"uuid": '
    c.write(damaged)
    bind_read_only(c.dir)
    r = c.cli("--list-profiles")
    check(r.returncode == 2 and "could not be read" in r.stderr, "the damage is not reported", r)
    check_failed(c.save("new"), "profiles.json")
    check(c.read() == damaged and c.kept() == [], "the damaged file was touched")


@test
def t_permission_denied():
    """as a user whom permissions bind: an unreadable file is never replaced, a closed folder
    refuses the save"""
    c = Config()
    check(c.save("mine").returncode == 0, "the first save failed")
    old = c.read()

    os.chmod(c.path, 0)
    check_no_dac_binds(c.path, write=False)
    r = c.cli("--list-profiles", prefix=NO_DAC)
    check(r.returncode == 2 and "Permission denied" in r.stderr and c.path in r.stderr,
          "an unreadable file must be reported", r)
    r = c.save("other", prefix=NO_DAC)
    check_failed(r, "Permission denied", c.path)
    os.chmod(c.path, 0o600)
    check(c.read() == old and c.kept() == [], "the unreadable file was touched")

    os.chmod(c.dir, 0o500)
    CLEANUPS.append(lambda: os.chmod(c.dir, 0o700))
    check_no_dac_binds(c.dir, write=True)
    check(c.cli("--list-profiles", prefix=NO_DAC).returncode == 0, "the list failed")
    r = c.save("other", prefix=NO_DAC)
    check_failed(r, "Permission denied", c.path)
    os.chmod(c.dir, 0o700)
    check(c.read() == old and c.strays() == [], "the folder changed")


# Symbolic links ----------------------------------------------------------------------------

@test
def t_symlink_to_profiles():
    """a link to a profiles file: read through it; a save replaces the link, never its target"""
    c = Config()
    elsewhere = os.path.join(c.home, "dotfiles")
    os.mkdir(elsewhere)
    target = os.path.join(elsewhere, "profiles.json")
    original = document(["linked"])
    with open(target, "wb") as f:
        f.write(original)
    os.symlink(target, c.path)

    check(c.names() == ["linked"], "the profiles behind the link do not list")
    r = c.save("new")
    check(r.returncode == 0, "the save failed", r)
    check_private(c.path)
    check(c.names() == ["linked", "new"], "the saved file lost a profile")
    with open(target, "rb") as f:
        check(f.read() == original, "the link's target was written")


@test
def t_symlink_to_other_file():
    """a link to some other file: reported as damaged, the link moved aside, the file whole"""
    c = Config()
    precious = os.path.join(c.home, "precious.txt")
    with open(precious, "wb") as f:
        f.write(b"not profiles\n")
    os.symlink(precious, c.path)

    r = c.cli("--list-profiles")
    check(r.returncode == 2 and "profiles.json.corrupt-" in r.stderr, "not reported", r)
    kept = c.kept()
    check(len(kept) == 1 and os.path.islink(os.path.join(c.dir, kept[0])),
          "the link was not kept aside as it is: %r" % kept)
    check(c.save("new").returncode == 0, "the save after failed")
    check_private(c.path)
    with open(precious, "rb") as f:
        check(f.read() == b"not profiles\n", "the other file was changed")


@test
def t_symlink_dangling():
    """a dangling link is no profiles; a save puts a file in its place, creates no target"""
    c = Config()
    target = os.path.join(c.home, "nowhere", "profiles.json")
    os.symlink(target, c.path)
    check(c.names() == [], "a dangling link lists profiles")
    check(c.save("new").returncode == 0, "the save failed")
    check_private(c.path)
    check(not os.path.lexists(target), "the save wrote through the dangling link")


@test
def t_symlink_loop():
    """a link loop: an error on every command, the link left alone"""
    c = Config()
    os.symlink("profiles.json", c.path)
    r = c.cli("--list-profiles")
    check(r.returncode == 2 and "Too many levels of symbolic links" in r.stderr
          and c.path in r.stderr, "the loop is not reported", r)
    check_failed(c.save("new"), "Too many levels of symbolic links")
    check(os.readlink(c.path) == "profiles.json", "the link was changed")


@test
def t_symlinked_folder():
    """a linked config folder: the file is saved in the folder the link points to"""
    c = Config(make_dir=False)
    real = os.path.join(c.home, "real-config")
    os.mkdir(real, 0o700)
    os.symlink(real, c.dir)
    check(c.save("linked").returncode == 0, "the save failed")
    check(os.path.islink(c.dir), "the folder link was replaced")
    check_private(os.path.join(real, "profiles.json"))
    check(c.names() == ["linked"], "the profile does not list")


# Damaged files -----------------------------------------------------------------------------

def check_kept_aside(c, damaged, what):
    """Checks that what is in the file's place (@damaged, if not None, is written there first)
    is reported and moved aside, and that a save then starts a new file."""
    if damaged is not None:
        c.write(damaged)
    r = c.cli("--list-profiles")
    check(r.returncode == 2 and "profiles.json.corrupt-" in r.stderr,
          "%s is not reported with where it was kept" % what, r)
    kept = c.kept()
    check(len(kept) == 1 and kept[0] in r.stderr, "%s: not kept once: %r" % (what, kept))
    if damaged is not None:
        with open(os.path.join(c.dir, kept[0]), "rb") as f:
            check(f.read() == damaged, "%s: the kept copy differs" % what)
    check(not os.path.lexists(c.path), "%s: still in place" % what)
    # Saving now starts a new file; the kept one stays.
    check(c.save("fresh").returncode == 0, "%s: the save after failed" % what)
    check(c.names() == ["fresh"] and c.kept() == kept, "%s: the save after went wrong" % what)
    return os.path.join(c.dir, kept[0])


@test
def t_truncated():
    """a truncated file is kept byte for byte and never overwritten"""
    c = Config()
    full = document(["a", "b", "c"])
    check_kept_aside(c, full[:len(full) // 2], "a truncated file")


@test
def t_empty():
    """an empty file (as a crash without fsync leaves) is kept aside and reported"""
    c = Config()
    check_kept_aside(c, b"", "an empty file")


@test
def t_save_over_damaged():
    """a save onto a damaged file refuses, keeps the file aside, and the next one works"""
    c = Config()
    damaged = document(["x"])[:-20]
    c.write(damaged)
    r = c.save("new")
    check_failed(r, "profiles.json.corrupt-")
    kept = c.kept()
    check(len(kept) == 1, "not kept aside: %r" % kept)
    with open(os.path.join(c.dir, kept[0]), "rb") as f:
        check(f.read() == damaged, "the kept copy differs")
    check(c.save("new").returncode == 0, "the save after failed")


@test
def t_directory():
    """a directory in the file's place is moved aside with what it holds"""
    c = Config()
    os.mkdir(c.path)
    with open(os.path.join(c.path, "inside"), "w") as f:
        f.write("mine")
    kept = check_kept_aside(c, None, "a directory")
    with open(os.path.join(kept, "inside")) as f:
        check(f.read() == "mine", "the directory lost its content")


@test
def t_fifo():
    """a FIFO in the file's place does not hang anything and is moved aside"""
    c = Config()
    os.mkfifo(c.path)
    kept = check_kept_aside(c, None, "a FIFO")
    check(stat.S_ISFIFO(os.lstat(kept).st_mode), "the FIFO was not kept")


@test
def t_huge():
    """a file over the cap is kept aside whole, a sparse 8 GiB one without being read"""
    c = Config()
    huge = b" " * (3 * 1024 * 1024) + document(["a"])
    check_kept_aside(c, huge, "a 3 MiB file")

    c = Config()
    with open(c.path, "wb") as f:
        f.truncate(8 << 30)
    start = time.monotonic()
    kept = check_kept_aside(c, None, "a sparse 8 GiB file")
    check(time.monotonic() - start < 10, "the sparse file was read")
    check(os.path.getsize(kept) == 8 << 30, "the sparse file changed")


# Runner ------------------------------------------------------------------------------------

def main():
    if os.environ.get(NS_MARK) != "1":
        # The mounts of this test live and die in a mount namespace of its own.
        env = dict(os.environ)
        env[NS_MARK] = "1"
        # As an ordinary user, a user namespace makes it root of its own mounts.
        user = [] if os.geteuid() == 0 else ["--map-root-user"]
        try:
            os.execvpe("unshare", ["unshare", "--mount", "--propagation", "private"] + user +
                       [sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env)
        except OSError as e:
            print("1..1\nnot ok 1 - a mount namespace for the test: %s" % e)
            return 1

    print("1..%d" % len(TESTS), flush=True)
    failed = 0
    only = sys.argv[1:]
    for n, fn in enumerate(TESTS, 1):
        desc = (fn.__doc__ or fn.__name__).strip().splitlines()[0]
        if only and fn.__name__ not in only:
            print("ok %d - %s # SKIP not selected" % (n, desc), flush=True)
            continue
        start = time.monotonic()
        try:
            if not CLI or not os.access(CLI, os.X_OK):
                raise Failure("DOCTOR_CLI is not set to the CLI: %r" % CLI)
            fn()
            print("# %.1f s" % (time.monotonic() - start))
            print("ok %d - %s" % (n, desc), flush=True)
        except Exception:
            failed += 1
            print("not ok %d - %s" % (n, desc))
            for line in traceback.format_exc().splitlines():
                print("# " + line)
            sys.stdout.flush()
        finally:
            while CLEANUPS:
                try:
                    CLEANUPS.pop()()
                except Exception:
                    pass
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
