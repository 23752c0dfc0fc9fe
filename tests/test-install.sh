#!/usr/bin/env bash
# `meson install --destdir` into a temporary folder puts every file in place: both programs,
# the desktop entry and metainfo with their German translations merged in, both icons, the
# GSettings schema, both man pages and the German catalogue; and the installed CLI speaks
# German from the installed catalogue.
#
# Usage: test-install.sh BUILD_ROOT PREFIX BINDIR DATADIR MANDIR LOCALEDIR   (meson passes them)
# Output: TAP.
set -uo pipefail

if [ $# -ne 6 ]; then
  echo "usage: $0 BUILD_ROOT PREFIX BINDIR DATADIR MANDIR LOCALEDIR" >&2
  exit 2
fi

build_root=$1
app_id=io.github.smtpdoctor.SmtpDoctor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest="$tmp/dest"

# Relative install dirs are under the prefix; absolute ones stand on their own.
under_prefix() {
  case "$2" in
    /*) echo "$dest$2" ;;
    *) echo "$dest$1/$2" ;;
  esac
}
bindir=$(under_prefix "$2" "$3")
datadir=$(under_prefix "$2" "$4")
mandir=$(under_prefix "$2" "$5")
localedir=$(under_prefix "$2" "$6")

n=0
failed=0

ok_if() {
  local description=$1; shift
  n=$((n + 1))
  if "$@" >"$tmp/out" 2>&1; then
    echo "ok $n - $description"
  else
    echo "not ok $n - $description"
    sed 's/^/# /' "$tmp/out"
    failed=$((failed + 1))
  fi
}

install_tree() {
  # --no-rebuild: meson test has built everything already (and must not race a rebuild).
  meson install -C "$build_root" --destdir "$dest" --no-rebuild --quiet
}

has_file() {
  [ -s "$1" ] || { echo "missing or empty: ${1#"$dest"}"; return 1; }
}

is_executable() {
  [ -x "$1" ] && [ -f "$1" ] || { echo "not an executable: ${1#"$dest"}"; return 1; }
}

has_line() {
  grep -qx "$2" "$1" || { echo "no line '$2' in ${1#"$dest"}"; return 1; }
}

has_german_key() {
  grep -q "^$2\[de\]=." "$1" || { echo "no $2[de] in ${1#"$dest"}"; return 1; }
}

metainfo_in_german() {
  grep -q '<summary xml:lang="de">' "$1" || { echo 'no <summary xml:lang="de">'; return 1; }
  grep -q '<p xml:lang="de">' "$1" || { echo 'no <p xml:lang="de">'; return 1; }
}

catalogue_is_german() {
  msgunfmt "$1" >"$tmp/de.po" || return 1
  grep -q '^"Language: de\\n"' "$tmp/de.po" || { echo "the catalogue is not German"; return 1; }
}

installed_cli_speaks_german() {
  local loc="$tmp/locale"
  mkdir -p "$loc"
  localedef -i de_DE -f UTF-8 "$loc/de_DE.UTF-8" || return 1
  # The port of a socket that was just closed: nothing listens there.
  local port
  port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  env -u LC_ALL -u LANGUAGE LANG=de_DE.UTF-8 LOCPATH="$loc" SMTP_DOCTOR_LOCALEDIR="$localedir" \
    "$bindir/smtp-doctor-cli" --timeout 5 "127.0.0.1:$port" >"$tmp/cli.txt" 2>&1
  local status=$?
  [ "$status" -eq 2 ] || { echo "exit status $status"; cat "$tmp/cli.txt"; return 1; }
  grep -q "Ergebnis: 1 Problem gefunden" "$tmp/cli.txt" || { cat "$tmp/cli.txt"; return 1; }
}

ok_if "meson install --destdir into a temporary folder" install_tree
ok_if "bin/smtp-doctor is installed" is_executable "$bindir/smtp-doctor"
ok_if "bin/smtp-doctor-cli is installed" is_executable "$bindir/smtp-doctor-cli"
ok_if "the desktop entry is installed" has_file "$datadir/applications/$app_id.desktop"
ok_if "the desktop entry starts the installed app" \
  has_line "$datadir/applications/$app_id.desktop" "Icon=$app_id"
for key in Name Comment Keywords; do
  ok_if "the installed desktop entry has $key[de]" \
    has_german_key "$datadir/applications/$app_id.desktop" "$key"
done
ok_if "the metainfo is installed" has_file "$datadir/metainfo/$app_id.metainfo.xml"
ok_if "the installed metainfo has German texts" \
  metainfo_in_german "$datadir/metainfo/$app_id.metainfo.xml"
ok_if "the scalable icon is installed" \
  has_file "$datadir/icons/hicolor/scalable/apps/$app_id.svg"
ok_if "the symbolic icon is installed" \
  has_file "$datadir/icons/hicolor/symbolic/apps/$app_id-symbolic.svg"
ok_if "the GSettings schema is installed" \
  has_file "$datadir/glib-2.0/schemas/$app_id.gschema.xml"
ok_if "smtp-doctor(1) is installed" has_file "$mandir/man1/smtp-doctor.1"
ok_if "smtp-doctor-cli(1) is installed" has_file "$mandir/man1/smtp-doctor-cli.1"
ok_if "the German catalogue is installed" \
  has_file "$localedir/de/LC_MESSAGES/smtp-doctor.mo"
ok_if "the installed catalogue is German" \
  catalogue_is_german "$localedir/de/LC_MESSAGES/smtp-doctor.mo"
ok_if "the installed smtp-doctor-cli speaks German from the installed catalogue" \
  installed_cli_speaks_german

echo "1..$n"
[ "$failed" -eq 0 ]
