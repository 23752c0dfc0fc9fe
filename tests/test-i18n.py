#!/usr/bin/python3
"""Translations: the template is complete, German is complete, and the programs speak it.

    /usr/bin/python3 test-i18n.py BUILD_ROOT SOURCE_ROOT      (meson passes both)

1. po/POTFILES.in lists every file with translatable strings (C and headers with _( N_( C_(
   NC_( Q_( ngettext g_dngettext …, .ui files with translatable="yes", the .desktop.in and
   .metainfo.xml.in templates, a GSettings schema with a summary or description, and the
   generated src/core/doctor-provider-strings.c) and no file that does not exist.
2. src/core/doctor-provider-strings.c is what po/extract-providers.py makes of
   data/providers.json today.
3. xgettext, with the arguments of meson's glib preset (what `ninja smtp-doctor-pot` runs),
   makes the template from POTFILES.in without a single warning.
4. po/LINGUAS and po/*.po agree; msgfmt --check passes on every .po; po/de.po has the right
   Plural-Forms and, merged with the template made in 3., no untranslated or fuzzy message;
   command-line options, URLs, protocol keywords and setting names are kept in German.
5. The merged desktop entry and metainfo (in BUILD_ROOT/data) carry the German texts.
6. smtp-doctor-cli under LANG=de_DE.UTF-8 (a locale made here with localedef, found through
   LOCPATH; the messages from BUILD_ROOT/po through SMTP_DOCTOR_LOCALEDIR): German check names,
   verdict, advice, plural forms for 1 and 2, durations and certificate dates in the German form;
   and a --json report that is the same contract as under C (keys, reason codes, integers).

Servers: smtp-server.py (aiosmtpd) and silent sockets, on 127.0.0.1 only. Prints TAP.
Environment: DOCTOR_CLI, DOCTOR_TEST_CERTS, G_TEST_SRCDIR (meson's test environment).
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import xml.etree.ElementTree as ET

PYTHON = "/usr/bin/python3"
APP_ID = "io.github.smtpdoctor.SmtpDoctor"
DOMAIN = "smtp-doctor"
CLI = os.environ.get("DOCTOR_CLI", "")
CERTS = os.environ.get("DOCTOR_TEST_CERTS", "")
SRCDIR = os.environ.get("G_TEST_SRCDIR", os.path.dirname(os.path.abspath(__file__)))
USER = "i18n@example.com"
SECRET = "I18n-Test-S3cret!"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# meson 1.0's i18n.gettext(preset: 'glib'), mesonbuild/modules/i18n.py PRESET_ARGS.
GLIB_PRESET = [
    "--from-code=UTF-8", "--add-comments",
    "--keyword=_", "--keyword=N_", "--keyword=C_:1c,2", "--keyword=NC_:1c,2",
    "--keyword=g_dcgettext:2", "--keyword=g_dngettext:2,3", "--keyword=g_dpgettext2:2c,3",
    "--flag=N_:1:pass-c-format", "--flag=C_:2:pass-c-format", "--flag=NC_:2:pass-c-format",
    "--flag=g_dngettext:2:pass-c-format", "--flag=g_strdup_printf:1:c-format",
    "--flag=g_string_printf:2:c-format", "--flag=g_string_append_printf:2:c-format",
    "--flag=g_error_new:3:c-format", "--flag=g_set_error:4:c-format",
    "--flag=g_markup_printf_escaped:1:c-format", "--flag=g_log:3:c-format",
    "--flag=g_print:1:c-format", "--flag=g_printerr:1:c-format", "--flag=g_printf:1:c-format",
    "--flag=g_fprintf:2:c-format", "--flag=g_sprintf:2:c-format",
    "--flag=g_snprintf:3:c-format",
]

if len(sys.argv) != 3:
    sys.exit("usage: test-i18n.py BUILD_ROOT SOURCE_ROOT")
BUILD, SOURCE = (os.path.abspath(a) for a in sys.argv[1:])

WORK = tempfile.mkdtemp(prefix="smtp-doctor-i18n-")


# --------------------------------------------------------------------------------------------
# A tiny TAP harness


class Failure(AssertionError):
    pass


class Todo(Exception):
    """A known failure, reported as TAP "not ok … # TODO"."""


class TodoPassed(Exception):
    """A known failure that is gone, reported as TAP "ok … # TODO" (an unexpected pass, which
    fails the test in meson until the excuse is removed)."""


TESTS = []
CLEANUPS = []


def test(fn):
    TESTS.append(fn)
    return fn


def check(cond, message):
    if not cond:
        raise Failure(message)


def diag(text):
    for line in str(text).splitlines() or [""]:
        print("# " + line)


def run(argv, env=None, cwd=None, timeout=120, stdin_text=""):
    try:
        return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd,
                              timeout=timeout, input=stdin_text, errors="replace")
    except subprocess.TimeoutExpired as e:
        raise Failure("timed out after %s s: %s\n%s\n%s" % (timeout, " ".join(argv),
                                                             e.stdout, e.stderr))


# --------------------------------------------------------------------------------------------
# Reading PO files (only what the checks need)


def po_unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append({"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"'}.get(s[i + 1],
                                                                                  s[i + 1]))
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def read_po(path):
    """The entries of a PO file: dicts with msgctxt, msgid, msgid_plural, msgstr (a list),
    flags, obsolete."""
    entries, cur, field = [], None, None

    def flush():
        nonlocal cur
        if cur is not None and cur["msgid"] is not None:
            entries.append(cur)
        cur = {"msgctxt": None, "msgid": None, "msgid_plural": None, "msgstr": [],
               "flags": [], "obsolete": False}

    flush()
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("#~"):
            cur["obsolete"] = True
            line = line[2:].lstrip()
        if not line.strip():
            flush()
            field = None
            continue
        if line.startswith("#,"):
            cur["flags"] += [f.strip() for f in line[2:].split(",")]
            continue
        if line.startswith("#"):
            continue
        m = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])?\s+"(.*)"$', line)
        if m:
            kw, value = m.group(1), po_unescape(m.group(3))
            if kw == "msgid" and field == "msgstr":
                flush()
            if kw == "msgstr":
                cur["msgstr"].append(value)
            else:
                cur[kw] = value
            field = kw
            continue
        m = re.match(r'^"(.*)"$', line)
        if m and field:
            value = po_unescape(m.group(1))
            if field == "msgstr":
                cur["msgstr"][-1] += value
            else:
                cur[field] += value
            continue
        raise Failure("%s: cannot read the line %r" % (path, line))
    flush()
    return entries


def po_header(entries):
    for e in entries:
        if e["msgid"] == "" and e["msgctxt"] is None:
            return dict(l.split(": ", 1) for l in e["msgstr"][0].split("\n") if ": " in l)
    return {}


# --------------------------------------------------------------------------------------------
# 1. POTFILES.in


def potfiles():
    with open(os.path.join(SOURCE, "po", "POTFILES.in"), encoding="utf-8") as f:
        return [l.strip() for l in f if l.strip() and not l.lstrip().startswith("#")]


C_STRIP = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
C_MARK = re.compile(r'(?<![A-Za-z0-9_])(?:(?:_|N_|C_|NC_|Q_)\s*\(\s*""'
                    r'|(?:g_dngettext|g_dcgettext|g_dpgettext2|ngettext|dngettext|gettext|'
                    r'dgettext|dcgettext|pgettext|npgettext)\s*\([^();]*"")')


def c_is_translatable(text):
    # Comments go, string literals become "": a marker in a comment or a string is no marker.
    stripped = C_STRIP.sub(lambda m: '""' if m.group(0).startswith('"') else " ", text)
    return C_MARK.search(stripped) is not None


def translatable_files():
    found = []
    for top in ("src", "data"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(SOURCE, top)):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, SOURCE)
                try:
                    with open(path, encoding="utf-8") as f:
                        text = f.read()
                except (UnicodeDecodeError, OSError):
                    continue
                if name.endswith((".c", ".h")):
                    hit = c_is_translatable(text)
                elif name.endswith(".ui"):
                    hit = re.search(r'translatable="(yes|true|1)"', text) is not None
                elif name.endswith((".desktop.in", ".metainfo.xml.in", ".appdata.xml.in")):
                    hit = True
                elif name.endswith(".gschema.xml"):
                    hit = re.search(r"<(summary|description)\b", text) is not None
                else:
                    hit = False
                if hit:
                    found.append(rel)
    return found


@test
def t_potfiles_exist():
    """every file in po/POTFILES.in exists, once"""
    listed = potfiles()
    missing = [p for p in listed if not os.path.isfile(os.path.join(SOURCE, p))]
    check(not missing, "listed in po/POTFILES.in but missing: %s" % ", ".join(missing))
    twice = sorted({p for p in listed if listed.count(p) > 1})
    check(not twice, "listed twice in po/POTFILES.in: %s" % ", ".join(twice))


@test
def t_potfiles_complete():
    """po/POTFILES.in lists every file with translatable strings"""
    listed = set(potfiles())
    found = translatable_files()
    check(os.path.join("src", "core", "doctor-provider-strings.c") in found,
          "the scan did not see src/core/doctor-provider-strings.c: the scan is broken")
    missing = [p for p in found if p not in listed]
    check(not missing, "translatable strings in files missing from po/POTFILES.in: %s"
          % ", ".join(missing))


@test
def t_scanner_sees_markers():
    """the POTFILES scan tells markers from comments and strings"""
    check(c_is_translatable('x = _("Hello");'), "_() not seen")
    check(c_is_translatable('x = C_("menu",\n "Open");'), "C_() not seen")
    check(c_is_translatable('g_dngettext (GETTEXT_PACKAGE, "%u file", "%u files", n)'),
          "g_dngettext() not seen")
    check(not c_is_translatable('/* _("not code") */ x = "_(\\"in a string\\")";'),
          "a marker in a comment or string was taken for code")
    check(not c_is_translatable("g_dgettext (GETTEXT_PACKAGE, msgid);"),
          "a call without a literal was taken for a translatable string")


# --------------------------------------------------------------------------------------------
# 2. The provider strings


@test
def t_provider_strings_up_to_date():
    """src/core/doctor-provider-strings.c is up to date with data/providers.json"""
    p = run([PYTHON, os.path.join(SOURCE, "po", "extract-providers.py"), "--check",
             os.path.join(SOURCE, "data", "providers.json"),
             os.path.join(SOURCE, "src", "core", "doctor-provider-strings.c")])
    check(p.returncode == 0, "extract-providers.py --check failed:\n" + p.stdout + p.stderr)
    # And the check can fail: a file one string short is out of date.
    with open(os.path.join(SOURCE, "src", "core", "doctor-provider-strings.c"),
              encoding="utf-8") as f:
        text = f.read()
    stale = os.path.join(WORK, "stale.c")
    with open(stale, "w", encoding="utf-8") as f:
        f.write(text.replace('  N_("Mailpit"),\n', "", 1))
    p = run([PYTHON, os.path.join(SOURCE, "po", "extract-providers.py"), "--check",
             os.path.join(SOURCE, "data", "providers.json"), stale])
    check(p.returncode == 1, "a stale copy passed the check (exit %d)" % p.returncode)


@test
def t_provider_strings_cover_json():
    """every name, user_hint, help, link title and region name of the presets is a msgid"""
    with open(os.path.join(SOURCE, "data", "providers.json"), encoding="utf-8") as f:
        providers = json.load(f)["providers"]
    wanted = set()
    for p in providers:
        wanted.add(p["name"])
        wanted.add(p["help"])
        if "user_hint" in p:
            wanted.add(p["user_hint"])
        wanted.update(l["title"] for l in p.get("links", []))
        wanted.update(r["name"] for r in p.get("regions", []))
    msgids = {e["msgid"] for e in read_po(template())}
    missing = sorted(wanted - msgids)
    check(not missing, "preset strings not in the template: %s" % "; ".join(missing[:5]))


# --------------------------------------------------------------------------------------------
# 3. The template


_TEMPLATE = []

# Warnings that another session is fixing: the TAP TODO below keeps them visible without
# failing the suite, and turns into a failure (an unexpected pass) once they are gone, so that
# this list is emptied then. Nothing else is excused.
KNOWN_WARNINGS = {
    # FILE: text of a warning that is known and being fixed. Keep it empty: a format macro such
    # as G_GINT64_FORMAT inside _() cuts the msgid short, and the message is never translated.
}


def template():
    """The template, made once with meson's arguments; returns its path and xgettext's
    warnings."""
    if _TEMPLATE:
        return _TEMPLATE[0]
    pot = os.path.join(WORK, DOMAIN + ".pot")
    p = run(["xgettext", "--package-name=" + DOMAIN, "-f", "po/POTFILES.in", "-o", pot]
            + GLIB_PRESET, cwd=SOURCE)
    check(p.returncode == 0, "xgettext failed (%d):\n%s" % (p.returncode, p.stderr))
    _TEMPLATE.append(pot)
    _TEMPLATE.append(p.stderr.strip().splitlines())
    return pot


@test
def t_template_without_warnings():
    """xgettext makes the template from POTFILES.in without warnings"""
    template()
    warnings = _TEMPLATE[1]
    unknown = [w for w in warnings
               if not any(w.startswith(f + ":") and why in w
                          for f, why in KNOWN_WARNINGS.items())]
    check(not unknown, "xgettext warned:\n" + "\n".join(unknown))
    fixed = [f for f in KNOWN_WARNINGS if not any(w.startswith(f + ":") for w in warnings)]
    if fixed:
        raise TodoPassed("no more warnings in %s: take it out of KNOWN_WARNINGS"
                         % ", ".join(fixed))
    if warnings:
        raise Todo("known xgettext warnings, being fixed elsewhere:\n" + "\n".join(warnings))


@test
def t_template_has_every_kind():
    """the template has the strings of every kind of file"""
    entries = read_po(template())
    check(len(entries) > 500, "only %d messages in the template" % len(entries))
    ids = {e["msgid"] for e in entries}
    for sample in ("Find out why mail will not send",      # desktop file
                   "Window width",                          # schema
                   "_Run Checks",                           # .ui
                   "Ready to send mail",                    # C
                   "Gmail / Google Workspace"):             # provider presets
        check(sample in ids, "%r is not in the template" % sample)


# --------------------------------------------------------------------------------------------
# 4. The translations


def languages():
    with open(os.path.join(SOURCE, "po", "LINGUAS"), encoding="utf-8") as f:
        return [w for l in f if not l.startswith("#") for w in l.split()]


@test
def t_linguas_matches_po_files():
    """po/LINGUAS lists exactly the .po files, de among them"""
    langs = languages()
    files = sorted(n[:-3] for n in os.listdir(os.path.join(SOURCE, "po")) if n.endswith(".po"))
    check("de" in langs, "de is not in po/LINGUAS: %s" % langs)
    check(sorted(langs) == files, "po/LINGUAS %s but .po files %s" % (sorted(langs), files))


def statistics(path):
    p = run(["msgfmt", "--check", "--statistics", "-o", "/dev/null", path],
            env=dict(os.environ, LC_ALL="C"))
    check(p.returncode == 0, "msgfmt --check %s failed:\n%s" % (path, p.stderr))
    line = p.stderr.strip().splitlines()[-1]
    counts = {kind: int(n) for n, kind in
              re.findall(r"(\d+) (translated|fuzzy|untranslated) messages?", line)}
    return line, counts


@test
def t_msgfmt_check():
    """msgfmt --check passes on every .po; de.po has no fuzzy or untranslated message"""
    for lang in languages():
        line, counts = statistics(os.path.join(SOURCE, "po", lang + ".po"))
        diag("%s.po: %s" % (lang, line))
        if lang == "de":
            check(counts.get("translated", 0) > 500, "de.po: " + line)
            check(not counts.get("fuzzy") and not counts.get("untranslated"), "de.po: " + line)


@test
def t_de_plural_forms():
    """de.po: Plural-Forms nplurals=2; plural=(n != 1); UTF-8; Language de"""
    header = po_header(read_po(os.path.join(SOURCE, "po", "de.po")))
    check(header.get("Plural-Forms", "").strip() == "nplurals=2; plural=(n != 1);",
          "Plural-Forms is %r" % header.get("Plural-Forms"))
    check(header.get("Language", "").strip() == "de", "Language is %r" % header.get("Language"))
    check("charset=UTF-8" in header.get("Content-Type", ""),
          "Content-Type is %r" % header.get("Content-Type"))


@test
def t_de_complete_for_the_sources():
    """de.po translates every message the sources have today"""
    merged = os.path.join(WORK, "de-merged.po")
    p = run(["msgmerge", "--quiet", "--no-fuzzy-matching", "-o", merged,
             os.path.join(SOURCE, "po", "de.po"), template()])
    check(p.returncode == 0, "msgmerge failed:\n" + p.stderr)
    missing = [e["msgid"] for e in read_po(merged)
               if e["msgid"] and not e["obsolete"] and
               ("fuzzy" in e["flags"] or not all(e["msgstr"]) or not e["msgstr"])]
    check(not missing, "%d messages of the sources are not translated in po/de.po (run "
          "ninja smtp-doctor-update-po and translate them), such as:\n%s"
          % (len(missing), "\n".join(missing[:10])))


KEEP = [
    re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*"),                   # command-line options
    re.compile(r"https?://[^\s,;)“”\"]+[^\s,;.)“”\"]"),           # URLs
    re.compile(r"\b(?:EHLO|HELO|STARTTLS|AUTH|PLAIN|XOAUTH2|OAUTHBEARER|MAIL FROM|RCPT TO)\b"),
    re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b"),                 # setting names: MAIL_HOST
    re.compile(r"/etc/[\w./-]+\w"),                               # files
]


@test
def t_de_keeps_the_untranslatable():
    """de.po keeps options, URLs, protocol keywords, setting names and placeholders"""
    problems = []
    for e in read_po(os.path.join(SOURCE, "po", "de.po")):
        if not e["msgid"] or e["obsolete"]:
            continue
        sources = [e["msgid"]] + ([e["msgid_plural"]] if e["msgid_plural"] else [])
        for n, text in enumerate(e["msgstr"]):
            source = sources[min(n, len(sources) - 1)]
            for pattern in KEEP:
                for token in set(pattern.findall(source)):
                    if token not in text:
                        problems.append("%r lost %r" % (source[:60], token))
            if "c-format" in e["flags"]:
                continue
            # Not a C format (the dates have their own codes): the same % codes, in any order.
            codes = sorted(re.findall(r"%-?[A-Za-z%]", source))
            if sorted(re.findall(r"%-?[A-Za-z%]", text)) != codes and \
                    not source.startswith("%Y"):
                problems.append("%r: the %% codes differ" % source[:60])
    check(not problems, "\n".join(problems[:20]))


# --------------------------------------------------------------------------------------------
# 5. The merged data files


@test
def t_desktop_entry_in_german():
    """the merged desktop entry has Name[de], Comment[de] and Keywords[de]"""
    path = os.path.join(BUILD, "data", APP_ID + ".desktop")
    with open(path, encoding="utf-8") as f:
        keys = dict(l.rstrip("\n").split("=", 1) for l in f if "=" in l and not l.startswith("#"))
    for key in ("Name[de]", "Comment[de]", "Keywords[de]"):
        check(keys.get(key), "%s is missing from %s" % (key, path))
    check(keys["Comment[de]"] != keys.get("Comment"), "Comment[de] is the English text")
    check(keys["Keywords[de]"].endswith(";"), "Keywords[de] does not end with a semicolon")


@test
def t_metainfo_in_german():
    """the merged metainfo has German summary, description and captions"""
    path = os.path.join(BUILD, "data", APP_ID + ".metainfo.xml")
    root = ET.parse(path).getroot()
    for where in ("summary", "description/p", "screenshots/screenshot/caption"):
        german = [e for e in root.findall(where) if e.get(XML_LANG) == "de"]
        check(german and (german[0].text or "").strip(),
              '%s has no xml:lang="de" text in %s' % (where, path))
    english = [e.text for e in root.findall("summary") if XML_LANG not in e.attrib]
    german = [e.text for e in root.findall("summary") if e.get(XML_LANG) == "de"]
    check(english != german, "the German summary is the English one")


# --------------------------------------------------------------------------------------------
# 6. The command line in German


_LOCPATH = []


def locpath():
    """A de_DE.UTF-8 locale of the test's own (no root needed, the system's left alone)."""
    if _LOCPATH:
        return _LOCPATH[0]
    path = os.path.join(WORK, "locale")
    os.makedirs(path)
    p = run(["localedef", "-i", "de_DE", "-f", "UTF-8", os.path.join(path, "de_DE.UTF-8")],
            env=dict(os.environ, LC_ALL="C"))
    check(p.returncode == 0 and os.path.isdir(os.path.join(path, "de_DE.UTF-8")),
          "localedef -i de_DE -f UTF-8 failed (Debian package locales):\n%s%s"
          % (p.stdout, p.stderr))
    _LOCPATH.append(path)
    return path


def cli_env(lang):
    env = dict(os.environ)
    for key in ("LC_ALL", "LC_MESSAGES", "LC_NUMERIC", "LC_TIME", "LANGUAGE", "LANG"):
        env.pop(key, None)
    if lang == "de":
        env.update(LANG="de_DE.UTF-8", LOCPATH=locpath(),
                   SMTP_DOCTOR_LOCALEDIR=os.path.join(BUILD, "po"))
    else:
        env.update(LC_ALL="C.UTF-8")
    env["TZ"] = "UTC"
    return env


def cli(lang, *args, password=True):
    env = cli_env(lang)
    if password:
        env["I18N_TEST_PASSWORD"] = SECRET
    check(os.path.isfile(os.path.join(BUILD, "po", "de", "LC_MESSAGES", DOMAIN + ".mo")),
          "the German catalogue was not built in %s/po" % BUILD)
    return run([CLI] + list(args), env=env, timeout=60)


class SmtpServer:
    """smtp-server.py (aiosmtpd) with STARTTLS, the good certificate and a login."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="smtp-doctor-i18n-server-", dir=WORK)
        ready = os.path.join(self.dir, "ready")
        argv = [PYTHON, os.path.join(SRCDIR, "smtp-server.py"), "--port", "0",
                "--mode", "starttls", "--cert", os.path.join(CERTS, "good.pem"),
                "--key", os.path.join(CERTS, "good-key.pem"), "--auth", USER + ":" + SECRET,
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

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class SilentServer:
    """Accepts connections on 127.0.0.1 and never says a word."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()
        CLEANUPS.append(self.stop)

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def stop(self):
        self.stopping = True
        self.sock.close()
        for c in self.conns:
            c.close()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def login_args(server):
    return ["--user", USER, "--password-env", "I18N_TEST_PASSWORD",
            "--ca-file", os.path.join(CERTS, "ca.pem"), "--timeout", "10",
            "127.0.0.1:%d" % server.port]


@test
def t_cli_text_in_german():
    """smtp-doctor-cli under LANG=de_DE.UTF-8: check names, verdict, dates and durations"""
    server = SmtpServer()
    p = cli("de", "--verbose", *login_args(server))
    out = p.stdout
    check(p.returncode == 0, "exit status %d:\n%s%s" % (p.returncode, out, p.stderr))
    for word in ("DNS-Abfrage", "Verbindung", "Begrüßung des Servers", "Zertifikat",
                 "Anmeldung", "Testnachricht", "Bereit zum Versenden von E-Mails",
                 "Gültig bis", "wird geprüft"):
        check(word in out, "%r is not in the German output:\n%s" % (word, out))
    check("Ready to send mail" not in out, "English verdict in the German output:\n" + out)
    # Dates in the German form (de.po: “%d.%m.%Y, %H:%M %Z”), not ISO 8601.
    m = re.search(r"Gültig bis:\S* (\d\d)\.(\d\d)\.(\d{4}), \d\d:\d\d UTC", out)
    check(m, "no German date after “Gültig bis:”:\n" + out)
    check(not re.search(r"\d{4}-\d\d-\d\dT\d\d:", out), "an ISO date in the text:\n" + out)
    # Durations: “(12 ms)”, or “(1,5 s)” with a decimal comma.
    durations = re.findall(r"\((\d+ ms|\d+,\d s)\)", out)
    check(len(durations) >= 5, "fewer than 5 durations in German form:\n" + out)
    # The same run under C is English, with the English forms.
    p = cli("C", "--verbose", *login_args(server))
    check("Ready to send mail" in p.stdout and "Valid until:" in p.stdout,
          "the C run is not English:\n" + p.stdout)
    check(re.search(r"Valid until:\S* \d{4}-\d\d-\d\d \d\d:\d\d UTC", p.stdout),
          "no English date after “Valid until:”:\n" + p.stdout)


@test
def t_cli_advice_in_german():
    """a refused port: the advice and the verdict in German, singular “1 Problem”"""
    p = cli("de", "--timeout", "5", "127.0.0.1:%d" % closed_port(), password=False)
    out = p.stdout
    check(p.returncode == 2, "exit status %d:\n%s%s" % (p.returncode, out, p.stderr))
    for text in ("Was zu tun ist", "Verwenden Sie den richtigen Port",
                 "nimmt kein Dienst Verbindungen an", "Nicht erreicht: Eine frühere Prüfung ist "
                 "fehlgeschlagen", "Ergebnis: 1 Problem gefunden"):
        check(text in out, "%r is not in the German output:\n%s" % (text, out))
    check("nc -zv 127.0.0.1" in out, "the commands of the advice were changed:\n" + out)


@test
def t_cli_plural_forms():
    """plural forms under German: “1 Sekunde” and “2 Sekunden”"""
    server = SilentServer()
    seen = {}
    for seconds, word in (("1", "Sekunde"), ("2", "Sekunden")):
        p = cli("de", "--timeout", seconds, "127.0.0.1:%d" % server.port, password=False)
        seen[seconds] = p.stdout
        check(re.search(r"innerhalb von %s %s\b(?!n)" % (seconds, word), p.stdout),
              "no “innerhalb von %s %s” in the output:\n%s" % (seconds, word, p.stdout))
    check("1 Sekunden" not in seen["1"], "plural for 1:\n" + seen["1"])


def shape(value):
    """The JSON report without its texts: keys, types, codes."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()
                if k not in ("summary", "title", "label", "text", "detail", "transcript",
                             "elapsed_ms")}
    if isinstance(value, list):
        return [shape(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return type(value).__name__
    return "string"


@test
def t_cli_json_unchanged_in_german():
    """--json under German: the same keys, reason codes, statuses and integers as under C"""
    server = SmtpServer()
    reports = {}
    for lang in ("C", "de"):
        p = cli(lang, "--json", *login_args(server))
        check(p.returncode == 0, "%s: exit status %d:\n%s%s" % (lang, p.returncode, p.stdout,
                                                               p.stderr))
        try:
            reports[lang] = json.loads(p.stdout)
        except ValueError as e:
            raise Failure("%s: not JSON (%s):\n%s" % (lang, e, p.stdout))
    c, de = reports["C"], reports["de"]
    check(shape(c) == shape(de), "the JSON differs in shape:\nC:  %s\nde: %s"
          % (json.dumps(shape(c))[:800], json.dumps(shape(de))[:800]))
    for key in ("verdict", "version"):
        check(c.get(key) == de.get(key), "%s: %r under C, %r under German"
              % (key, c.get(key), de.get(key)))
    for a, b in zip(c["checks"], de["checks"]):
        for key in ("id", "status", "reason"):
            check(a.get(key) == b.get(key), "check %s: %s %r under C, %r under German"
                  % (a.get("id"), key, a.get(key), b.get(key)))
        check(isinstance(b.get("duration_ms"), int), "duration_ms is not an integer: %r" % b)
    cert = [ch for ch in de["checks"] if ch["id"] == "certificate"][0]
    after = json.dumps(cert["details"])
    check(re.search(r'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"', after),
          "the certificate dates are not ISO 8601 under German: " + after)
    # The texts for people are German, so the run above really was German.
    texts = [ch.get("summary", "") for ch in de["checks"]]
    check(any("Der Server" in t or "angemeldet" in t for t in texts),
          "the summaries are not German: %s" % texts)


# --------------------------------------------------------------------------------------------


def main():
    print("1..%d" % len(TESTS), flush=True)
    failed = 0
    try:
        for n, fn in enumerate(TESTS, 1):
            name = (fn.__doc__ or fn.__name__).strip().splitlines()[0]
            try:
                fn()
            except TodoPassed as e:
                print("ok %d - %s # TODO %s" % (n, name, e))
            except Todo as e:
                print("not ok %d - %s # TODO %s" % (n, name, str(e).splitlines()[0]))
                diag(str(e))
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
        shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
