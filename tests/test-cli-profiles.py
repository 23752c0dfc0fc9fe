#!/usr/bin/python3
"""Profiles, the keyring and .env files on the command line.

Runs inside run-with-keyring.sh: a real gnome-keyring-daemon on a private session bus, with HOME
in a temporary directory. Each case gets its own XDG_CONFIG_HOME. The real aiosmtpd server and
the TAP harness come from test-aiosmtpd.py. Prints TAP.
"""

import importlib.util
import json
import os
import stat
import subprocess
import tempfile
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("aiosmtpd_tests",
                                               os.path.join(HERE, "test-aiosmtpd.py"))
h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h)

# The harness collects the tests of this file, not of the one it came from.
h.TESTS.clear()
test, check, run_cli, SmtpServer = h.test, h.check, h.run_cli, h.SmtpServer
USER, SECRET = h.USER, h.SECRET


def config_home():
    d = tempfile.mkdtemp(prefix="smtp-doctor-config-")
    h.CLEANUPS.append(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


def profiles_file(home):
    return os.path.join(home, "smtp-doctor", "profiles.json")


def keyring_items(uuid):
    p = subprocess.run(["secret-tool", "search", "--all", "profile-uuid", uuid],
                       capture_output=True, text=True, timeout=20)
    return [l for l in (p.stdout + p.stderr).splitlines() if l.startswith("attribute.profile-uuid")]


@test
def t_save_list_run_delete():
    """--save-profile keeps settings in profiles.json and the password only in the keyring"""
    home = config_home()
    env = {"XDG_CONFIG_HOME": home}
    srv = SmtpServer("starttls")

    r = run_cli("--save-profile", "work", "-u", USER, "--password-stdin", h.ca_file(),
                "--timeout", "10", "127.0.0.1:%d" % srv.port,
                stdin_text=SECRET + "\n", env=env)
    check(r.rc == 0, "save failed", r)
    check(not srv.commands(), "saving must not connect to the server")

    path = profiles_file(home)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for leak in h.LEAKS:
        check(leak not in text, "the password is in profiles.json")
    check(stat.S_IMODE(os.stat(path).st_mode) == 0o600, "profiles.json is not 0600")
    data = json.loads(text)
    check(data["version"] == 1 and len(data["profiles"]) == 1, "unexpected file: " + text)
    uuid = data["profiles"][0]["uuid"]
    check(len(keyring_items(uuid)) == 1, "no keyring item for the profile")

    r = run_cli("--list-profiles", env=env)
    check(r.rc == 0 and r.out.splitlines() == ["work"], "list", r)
    r = run_cli("--list-profiles", "--json", env=env)
    listed = json.loads(r.out)
    check(isinstance(listed, list) and listed[0]["name"] == "work"
          and listed[0]["port"] == srv.port and listed[0]["user"] == USER, "list --json", r)

    # The password comes from the keyring and the login works.
    r = run_cli("--json", "--profile", "work", env=env)
    check(r.rc == 0, "a run from the profile failed", r)
    check(r.check_by_id("auth")["status"] == "pass", "the login from the keyring failed", r)
    check(any(l.upper().startswith("AUTH") for l in srv.commands()), "no AUTH reached the server")

    # The command line wins over the profile.
    r = run_cli("--json", "--profile", "work", "--timeout", "2", "127.0.0.1:1", env=env)
    check(r.report["target"]["port"] == 1 and r.rc == 2, "override", r)

    r = run_cli("--delete-profile", "work", env=env)
    check(r.rc == 0, "delete", r)
    r = run_cli("--list-profiles", env=env)
    check(r.out.strip() == "", "the profile is still listed", r)
    check(not keyring_items(uuid), "the keyring item outlived its profile")


@test
def t_unknown_profile():
    """an unknown profile is a usage error"""
    env = {"XDG_CONFIG_HOME": config_home()}
    r = run_cli("--profile", "nope", env=env)
    check(r.rc == 3 and "nope" in r.err, "unknown --profile", r)
    r = run_cli("--delete-profile", "nope", env=env)
    check(r.rc == 3, "unknown --delete-profile", r)


@test
def t_damaged_file_kept():
    """a damaged profiles.json is kept byte for byte and reported"""
    home = config_home()
    os.makedirs(os.path.join(home, "smtp-doctor"))
    damaged = b'{"version": 1, "profiles": [{"name": "x", "port": "587x"'
    with open(profiles_file(home), "wb") as f:
        f.write(damaged)
    r = run_cli("--list-profiles", env={"XDG_CONFIG_HOME": home})
    check(r.rc == 2 and "corrupt" in r.err, "a damaged file must be reported", r)
    kept = [n for n in os.listdir(os.path.join(home, "smtp-doctor")) if ".corrupt-" in n]
    check(len(kept) == 1, "no .corrupt copy: %r" % kept)
    with open(os.path.join(home, "smtp-doctor", kept[0]), "rb") as f:
        check(f.read() == damaged, "the damaged bytes were not kept")


@test
def t_no_keyring():
    """without a Secret Service the profile is saved and the password is not, anywhere"""
    home = config_home()
    env = {"XDG_CONFIG_HOME": home, "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus"}
    r = run_cli("--save-profile", "nokeyring", "-u", USER, "--password-stdin",
                "smtp.example.org:587", stdin_text=SECRET + "\n", env=env)
    check(r.rc == 1, "expected a warning exit", r)
    check("keyring" in r.err.lower(), "the message should name the keyring", r)
    with open(profiles_file(home), encoding="utf-8") as f:
        text = f.read()
    for leak in h.LEAKS:
        check(leak not in text, "the password was written to profiles.json")
    r = run_cli("--list-profiles", env=env)
    check(r.out.splitlines() == ["nokeyring"], "the settings were lost", r)


@test
def t_env_file():
    """--env-file diagnoses the server a Laravel .env names, with its password"""
    srv = SmtpServer("starttls")
    d = config_home()
    path = os.path.join(d, ".env")
    with open(path, "w") as f:
        f.write("APP_NAME=Shop\n"
                "# mail\n"
                "MAIL_MAILER=smtp\n"
                "MAIL_HOST=127.0.0.1\n"
                "MAIL_PORT=%d\n"
                "MAIL_USERNAME=\"%s\"\n"
                "MAIL_PASSWORD='%s'\n"
                "MAIL_ENCRYPTION=tls\n"
                "MAIL_FROM_ADDRESS=\"shop@example.org\"\n" % (srv.port, USER, SECRET))
    r = run_cli("--json", "--env-file", path, h.ca_file(), "--timeout", "10",
                env={"XDG_CONFIG_HOME": d})
    check(r.rc == 0, "the .env run failed", r)
    t = r.report["target"]
    check(t["port"] == srv.port and t["security"] == "starttls" and t["user"] == USER,
          "target %r" % t, r)
    check(r.check_by_id("auth")["status"] == "pass", "the .env password was not used", r)

    r = run_cli("--env-file", path, h.ca_file(), "--timeout", "10",
                env={"XDG_CONFIG_HOME": d})
    check("MAIL_HOST" in r.err and "MAIL_PASSWORD" in r.err, "what was found is listed", r)


@test
def t_env_file_errors():
    """a .env file without mail settings, or missing, is a clear usage error"""
    d = config_home()
    path = os.path.join(d, ".env")
    with open(path, "w") as f:
        f.write("APP_NAME=Shop\nDB_HOST=localhost\n")
    r = run_cli("--env-file", path)
    check(r.rc == 3 and "mail" in r.err.lower(), "no settings", r)
    r = run_cli("--env-file", os.path.join(d, "missing.env"))
    check(r.rc == 3, "missing file", r)


@test
def t_secret_nowhere():
    """a login with every output on: text, --verbose transcript, JSON, debug logs, saved files"""
    home = config_home()
    env = {"XDG_CONFIG_HOME": home, "G_MESSAGES_DEBUG": "all"}
    srv = SmtpServer("starttls")
    target = "127.0.0.1:%d" % srv.port
    # run_cli() itself fails the test if the password, its base64 or the PLAIN blob appears on
    # standard output or standard error (where G_MESSAGES_DEBUG=all sends every debug line).
    r = run_cli("--verbose", "-u", USER, "--password-stdin", h.ca_file(), "--timeout", "10",
                target, stdin_text=SECRET + "\n", env=env)
    check(r.rc == 0 and "AUTH PLAIN ****" in r.out, "a verbose login", r)
    r = run_cli("--json", "-u", USER, "--password-stdin", h.ca_file(), "--timeout", "10",
                target, stdin_text=SECRET + "\n", env=env)
    check(r.rc == 0, "a JSON login", r)
    r = run_cli("--save-profile", "p", "-u", USER, "--password-stdin", h.ca_file(), target,
                stdin_text=SECRET + "\n", env=env)
    check(r.rc == 0, "save", r)
    r = run_cli("--json", "--verbose", "--profile", "p", "--timeout", "10", env=env)
    check(r.check_by_id("auth")["status"] == "pass", "a login from the keyring", r)
    # Nothing written below the configuration folder holds it either.
    for root, _, files in os.walk(home):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                data = f.read()
            for leak in h.LEAKS:
                check(leak.encode() not in data, "the secret is in %s" % name)


if __name__ == "__main__":
    h.main()
