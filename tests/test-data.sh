#!/usr/bin/env bash
# The desktop-integration files in data/: the merged desktop entry passes desktop-file-validate
# and carries the categories and search keywords the menu needs, the GSettings schema compiles
# strictly, and both icons are well-formed SVG that librsvg renders. The merged AppStream
# metainfo passes appstreamcli validate and the rules of Flathub that Debian 12's appstream 0.16
# does not check; the Flatpak manifest parses and has the runtime, command and permissions
# Flathub's linter wants; both man pages format without warnings and document every option.
#
# Usage: test-data.sh BUILD_ROOT SOURCE_ROOT   (meson passes both)
# Output: TAP.
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_ROOT SOURCE_ROOT" >&2
  exit 2
fi

build_root=$1
source_root=$2
app_id=io.github.smtpdoctor.SmtpDoctor
desktop="$build_root/data/$app_id.desktop"
metainfo="$build_root/data/$app_id.metainfo.xml"
manifest="$source_root/flatpak/$app_id.json"
icons=(
  "$source_root/data/icons/hicolor/scalable/apps/$app_id.svg"
  "$source_root/data/icons/hicolor/symbolic/apps/$app_id-symbolic.svg"
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n=0
failed=0

# ok_if DESCRIPTION COMMAND…: runs the command, prints its output as TAP diagnostics on failure.
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

need() {
  command -v "$1" >/dev/null || { echo "$1 not found (Debian package $2)"; return 1; }
}

# The value of KEY in the [Desktop Entry] group, untranslated.
desktop_value() {
  sed -n '/^\[Desktop Entry\]/,/^\[/{s/^'"$1"'=//p}' "$desktop"
}

# list_has LIST ITEM…: every ITEM is an element of the semicolon-separated LIST.
list_has() {
  local list=$1 item
  shift
  for item in "$@"; do
    case ";$list" in
      *";$item;"*) ;;
      *) echo "'$item' missing from '$list'"; return 1 ;;
    esac
  done
}

validate_desktop() {
  need desktop-file-validate desktop-file-utils || return 1
  [ -s "$desktop" ] || { echo "$desktop was not built"; return 1; }
  # desktop-file-validate exits 0 on hints; fail on any message so that hints are fixed too.
  local out
  out=$(desktop-file-validate "$desktop" 2>&1) || { echo "$out"; return 1; }
  [ -z "$out" ] || { echo "$out"; return 1; }
}

check_categories() {
  list_has "$(desktop_value Categories)" Network Monitor
}

check_keywords() {
  list_has "$(desktop_value Keywords)" smtp mail email tls
}

check_entry_keys() {
  local key want
  for key in "Icon=$app_id" "Type=Application" "Terminal=false"; do
    want=${key#*=}
    [ "$(desktop_value "${key%%=*}")" = "$want" ] || { echo "expected $key"; return 1; }
  done
  case "$(desktop_value Exec)" in
    smtp-doctor|"smtp-doctor "*) ;;
    *) echo "Exec does not start smtp-doctor: $(desktop_value Exec)"; return 1 ;;
  esac
}

check_schema() {
  need glib-compile-schemas libglib2.0-bin || return 1
  glib-compile-schemas --strict --dry-run "$source_root/data"
}

check_compiled_schema() {
  [ -s "$build_root/data/gschemas.compiled" ] || { echo "no gschemas.compiled in the build dir"; return 1; }
  need gsettings libglib2.0-bin || return 1
  local keys
  keys=$(GSETTINGS_SCHEMA_DIR="$build_root/data" GSETTINGS_BACKEND=memory \
         gsettings list-keys "$app_id" | sort | tr '\n' ' ')
  [ "$keys" = "last-profile window-height window-maximized window-width " ] || {
    echo "unexpected keys: $keys"; return 1; }
}

check_well_formed() {
  need xmllint libxml2-utils || return 1
  xmllint --noout "$1"
}

# render SVG SIZE: librsvg draws it to a PNG of that size with some visible pixels.
check_renders() {
  need rsvg-convert librsvg2-bin || return 1
  local png="$tmp/icon-$2.png"
  rsvg-convert --width "$2" --height "$2" "$1" -o "$png" || return 1
  [ -s "$png" ] || { echo "empty PNG"; return 1; }
  png_has_pixels "$png" "$2"
}

# png_has_pixels PNG SIZE: the PNG is SIZE×SIZE and not fully transparent. A blank image is all
# zero bytes after decompression, whatever the row filters, so any other byte is a drawn pixel.
png_has_pixels() {
  python3 - "$1" "$2" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, size = 8, b"", None
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        size = struct.unpack(">II", body[:8])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
want = int(sys.argv[2])
if size != (want, want):
    sys.exit(f"PNG is {size}, expected {want}x{want}")
raw = zlib.decompress(idat)
stride = len(raw) // want
if not any(any(raw[row * stride + 1:(row + 1) * stride]) for row in range(want)):
    sys.exit("PNG is fully transparent")
PY
}

# The symbolic icon is recoloured by GTK, so it may only use the one symbolic colour, and no
# strokes (GTK recolours fills; hairline strokes also vanish at 16 px).
check_symbolic_style() {
  local colours
  colours=$(grep -Eoi '#[0-9a-f]{6}\b' "$1" | tr 'A-F' 'a-f' | sort -u | tr '\n' ' ')
  [ "$colours" = "#2e3436 " ] || { echo "colours other than #2e3436: $colours"; return 1; }
  if grep -Eq 'stroke[=:]' "$1"; then
    echo "the symbolic icon uses strokes"; return 1
  fi
}

validate_metainfo() {
  need appstreamcli appstream || return 1
  [ -s "$metainfo" ] || { echo "$metainfo was not built"; return 1; }
  # Not --strict: appstream 0.16 reports <developer> (AppStream 1.0) as an unknown tag (info).
  appstreamcli validate --no-net --explain "$metainfo"
}

# flathub_check NAME: one group of the metainfo rules of Flathub (docs.flathub.org, "MetaInfo
# guidelines" and "Quality guidelines") that appstream 0.16 lets pass. See the script below.
flathub_check() {
  [ -s "$metainfo" ] || { echo "$metainfo was not built"; return 1; }
  python3 "$tmp/flathub.py" "$1" "$metainfo" "$desktop" "$source_root" "$app_id"
}

cat >"$tmp/flathub.py" <<'PY'
import datetime, re, struct, sys
import xml.etree.ElementTree as ET

check, metainfo, desktop, source_root, app_id = sys.argv[1:]
root = ET.parse(metainfo).getroot()
shots_url = "https://raw.githubusercontent.com/smtpdoctor/smtp-doctor/main/data/screenshots/"
problems = []

def untranslated(path):
    """The elements at path without an xml:lang (the merged file holds the translations too)."""
    return [e for e in root.findall(path)
            if "{http://www.w3.org/XML/1998/namespace}lang" not in e.attrib]

def text(path):
    found = untranslated(path)
    return (found[0].text or "").strip() if found else None

def desktop_list(key):
    for line in open(desktop, encoding="utf-8"):
        if line.startswith(key + "="):
            return [v for v in line.strip().split("=", 1)[1].split(";") if v]
    return []

def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])

if check == "basics":
    if root.get("type") != "desktop-application":
        problems.append("component type is not desktop-application")
    if text("id") != app_id:
        problems.append(f"id is {text('id')!r}")
    if text("metadata_license") != "CC0-1.0":
        problems.append("metadata_license is not CC0-1.0")
    if text("project_license") != "GPL-3.0-or-later":
        problems.append("project_license is not GPL-3.0-or-later")
    name = text("name") or ""
    if not name or len(name) >= 20:
        problems.append(f"name {name!r} is empty or not shorter than 20 characters")
    summary = text("summary") or ""
    if not 10 <= len(summary) <= 35:
        problems.append(f"summary {summary!r} is {len(summary)} characters, not 10 to 35")
    if summary.endswith("."):
        problems.append("summary ends with a period")
    if summary.lower().startswith(("a ", "an ", "the ")):
        problems.append("summary starts with an article")
    if name and name.lower() in summary.lower():
        problems.append("summary repeats the name")
    description = untranslated("description")
    if not description or not description[0].findall("p"):
        problems.append("no description with a paragraph")
    elif not description[0].findall("ul/li"):
        problems.append("description has no list")
    launchables = [e.text for e in root.findall("launchable[@type='desktop-id']")]
    if launchables != [app_id + ".desktop"]:
        problems.append(f"launchable desktop-id is {launchables}")
    if root.find("content_rating[@type='oars-1.1']") is None:
        problems.append("no content_rating of type oars-1.1")
    if text("translation[@type='gettext']") != "smtp-doctor":
        problems.append("no <translation type=\"gettext\">smtp-doctor</translation>")
    binaries = [e.text for e in root.findall("provides/binary")]
    if "smtp-doctor-cli" not in binaries:
        problems.append(f"provides binary smtp-doctor-cli missing: {binaries}")

elif check == "developer":
    developer = root.find("developer")
    if developer is None:
        problems.append("no <developer>")
    else:
        if not re.fullmatch(r"[a-z0-9_-]+(\.[A-Za-z0-9_-]+)+", developer.get("id") or ""):
            problems.append(f"developer id {developer.get('id')!r} is not reverse-DNS")
        names = [e for e in developer.findall("name")
                 if "{http://www.w3.org/XML/1998/namespace}lang" not in e.attrib]
        if not names or not (names[0].text or "").strip():
            problems.append("developer has no name")

elif check == "urls":
    for kind in ("homepage", "bugtracker", "vcs-browser"):
        url = text(f"url[@type='{kind}']")
        if not url or not url.startswith("https://github.com/smtpdoctor/smtp-doctor"):
            problems.append(f"url {kind} is {url!r}")

elif check == "releases":
    releases = root.findall("releases/release")
    if not releases:
        problems.append("no release")
    dates = []
    for release in releases:
        version, date = release.get("version"), release.get("date")
        try:
            day = datetime.date.fromisoformat(date or "")
        except ValueError:
            problems.append(f"release {version} has no date (YYYY-MM-DD): {date!r}")
            continue
        if day > datetime.date.today():
            problems.append(f"release {version} is dated in the future: {date}")
        dates.append(day)
        if release.get("type", "stable") != "stable" and release is releases[0]:
            problems.append(f"the latest release {version} is a {release.get('type')}")
        if release.find("description/p") is None:
            problems.append(f"release {version} has no description")
    if dates != sorted(dates, reverse=True):
        problems.append("releases are not newest first")

elif check == "screenshots":
    shots = root.findall("screenshots/screenshot")
    if not shots:
        problems.append("no screenshots")
    if len([s for s in shots if s.get("type") == "default"]) != 1:
        problems.append("not exactly one default screenshot")
    for shot in shots:
        captions = [e for e in shot.findall("caption")
                    if "{http://www.w3.org/XML/1998/namespace}lang" not in e.attrib]
        caption = (captions[0].text or "").strip() if captions else ""
        if not caption:
            problems.append("a screenshot has no caption")
        elif caption.endswith("."):
            problems.append(f"caption {caption!r} ends with a period")
        images = shot.findall("image")
        if len(images) != 1:
            problems.append(f"{len(images)} images in a screenshot, expected one source")
            continue
        url = (images[0].text or "").strip()
        if not url.startswith(shots_url) or not url.endswith(".png"):
            problems.append(f"screenshot URL {url!r} does not follow {shots_url}NAME.png")
            continue
        local = source_root + "/data/screenshots/" + url[len(shots_url):]
        try:
            size = png_size(local)
        except OSError:
            problems.append(f"{local} is missing")
            continue
        if size is None:
            problems.append(f"{local} is not a PNG")
            continue
        if size[0] > 1000 or size[1] > 700:
            problems.append(f"{local} is {size[0]}x{size[1]}, larger than 1000x700")
        given = (images[0].get("width"), images[0].get("height"))
        if given != (str(size[0]), str(size[1])):
            problems.append(f"{local} is {size[0]}x{size[1]} but the metainfo says {given}")

elif check == "branding":
    for scheme in ("light", "dark"):
        colours = root.findall(f"branding/color[@type='primary'][@scheme_preference='{scheme}']")
        if len(colours) != 1 or not re.fullmatch(r"#[0-9a-fA-F]{6}", (colours[0].text or "")):
            problems.append(f"no primary #rrggbb brand colour for the {scheme} scheme")

elif check == "devices":
    controls = sorted(e.text for e in root.findall("supports/control"))
    if controls != ["keyboard", "pointing", "touch"]:
        problems.append(f"supported controls are {controls}")
    length = root.find("requires/display_length")
    if length is None or length.get("compare", "ge") != "ge" or int(length.text) < 360:
        problems.append("no <requires><display_length compare=\"ge\"> of at least 360")

elif check == "desktop-match":
    categories = [e.text for e in root.findall("categories/category")]
    if categories != desktop_list("Categories"):
        problems.append(f"categories {categories} differ from the desktop file's")
    keywords = [e.text for e in untranslated("keywords/keyword")]
    if keywords != desktop_list("Keywords"):
        problems.append(f"keywords {keywords} differ from the desktop file's")

else:
    problems.append(f"unknown check {check}")

for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
PY

# The development manifest, as Flathub's linter would read it (flatpak-builder-lint is not in
# Debian): the ID and file name, the newest stable GNOME runtime, the command, exactly the
# permissions the app needs (no D-Bus names: libsecret reaches the keyring through the Secret
# portal), one meson module and the usual cleanup.
check_manifest() {
  python3 - "$manifest" "$app_id" <<'PY'
import json, os, sys
path, app_id = sys.argv[1:]
with open(path, encoding="utf-8") as f:
    raw = f.read()
m = json.loads(raw)
problems = []
def want(key, value):
    if m.get(key) != value:
        problems.append(f"{key} is {m.get(key)!r}, expected {value!r}")
if os.path.basename(path) != m.get("id", "") + ".json":
    problems.append("the file name is not the app ID")
want("id", app_id)
want("runtime", "org.gnome.Platform")
want("sdk", "org.gnome.Sdk")
want("command", "smtp-doctor")
try:
    if int(m.get("runtime-version", "0")) < 50:
        problems.append(f"runtime-version {m.get('runtime-version')!r} is older than GNOME 50")
except ValueError:
    problems.append(f"runtime-version {m.get('runtime-version')!r} is not a stable branch")
want("finish-args", ["--share=network", "--share=ipc", "--socket=wayland",
                     "--socket=fallback-x11", "--device=dri"])
for key in ("branch", "app-id"):
    if key in m:
        problems.append(f"{key} should not be set")
cleanup = m.get("cleanup", [])
for item in ("/include", "/lib/pkgconfig", "/share/man", "*.a"):
    if item not in cleanup:
        problems.append(f"cleanup lacks {item}")
if any("debug" in item for item in cleanup):
    problems.append("cleanup removes debug files")
modules = m.get("modules", [])
if len(modules) != 1 or modules[0].get("buildsystem") != "meson":
    problems.append("expected exactly one module, built with meson")
else:
    sources = modules[0].get("sources", [])
    if len(sources) != 1 or sources[0].get("type") not in ("dir", "git"):
        problems.append("the module should have one dir or git source")
    elif sources[0]["type"] == "dir" and \
            os.path.realpath(os.path.join(os.path.dirname(path), sources[0].get("path", ""))) != \
            os.path.realpath(os.path.join(os.path.dirname(path), "..")):
        problems.append("the dir source is not the top of the tree")
if not raw.endswith("\n") or "\r" in raw:
    problems.append("the file does not end in LF line ends")
for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
PY
}

# flatpak-builder's own parser: unknown keys are only warnings, fatal with G_DEBUG.
check_manifest_parses() {
  need flatpak-builder flatpak-builder || return 1
  # Without G_ENABLE_DIAGNOSTIC (set by the test environment): flatpak-builder 1.2 itself reads
  # a deprecated property of its own, which that would turn into a warning. Run in $tmp, where
  # it leaves its .flatpak-builder state folder.
  (cd "$tmp" && env -u G_ENABLE_DIAGNOSTIC G_DEBUG=fatal-warnings \
     flatpak-builder --show-manifest "$manifest" >/dev/null)
}

# lint_man PAGE: man-db's formatter (groff -ww underneath) prints no warning at all.
lint_man() {
  need man man-db || return 1
  need groff groff-base || return 1
  local out
  out=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$1" 2>&1 >/dev/null) || { echo "$out"; return 1; }
  [ -z "$out" ] || { echo "$out"; return 1; }
}

# man_has_options SOURCE PAGE: every long option of the GOptionEntry list in SOURCE is a tag
# (the line after .TP) in PAGE.
man_has_options() {
  local options tags name escaped missing=""
  options=$(sed -n '/GOptionEntry [a-z_]*\[\] = {/,/{ NULL }/p' "$1" |
            sed -n 's/^ *{ "\([a-z][a-z-]*\)",.*/\1/p')
  [ -n "$options" ] || { echo "no options found in $1"; return 1; }
  tags=$(awk 'tp { print; tp = 0 } /^\.TP/ { tp = 1 }' "$2")
  for name in $options; do
    escaped=$(printf '%s' "$name" | sed 's/-/\\\\-/g')
    printf '%s\n' "$tags" | grep -Eq "\\\\-\\\\-$escaped([^a-z\\\\]|\\\\c|\$)" || missing="$missing --$name"
  done
  [ -z "$missing" ] || { echo "not documented in $(basename "$2"):$missing"; return 1; }
}

# man_has_sections PAGE SECTION…
man_has_sections() {
  local page=$1 section missing=""
  shift
  for section in "$@"; do
    grep -qx "\.SH \"\?$section\"\?" "$page" || missing="$missing '$section'"
  done
  [ -z "$missing" ] || { echo "sections missing:$missing"; return 1; }
}

# The exit codes of smtp-doctor-cli and the members of its JSON report are all explained.
man_cli_contract() {
  local page=$1 code member missing=""
  for code in 0 1 2 3 130; do
    sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$page" | grep -qx "\.B $code" || missing="$missing exit-$code"
  done
  for member in version target verdict checks suggestion ports network transcript discovery; do
    sed -n '/^\.SH JSON REPORT/,/^\.SH /p' "$page" | grep -qx "\.B $member" || missing="$missing $member"
  done
  grep -q 'profiles\.json' "$page" || missing="$missing profiles.json"
  [ -z "$missing" ] || { echo "not explained:$missing"; return 1; }
}

ok_if "desktop file passes desktop-file-validate" validate_desktop
ok_if "desktop file Categories has Network and Monitor" check_categories
ok_if "desktop file Keywords has smtp, mail, email and tls" check_keywords
ok_if "desktop file Icon, Exec, Type and Terminal" check_entry_keys
ok_if "glib-compile-schemas --strict --dry-run data/" check_schema
ok_if "schema compiled into the build dir with its four keys" check_compiled_schema
for icon in "${icons[@]}"; do
  name=$(basename "$icon")
  ok_if "$name is well-formed XML" check_well_formed "$icon"
  case "$name" in
    *-symbolic.svg) sizes="16 64" ;;
    *) sizes="64 256" ;;
  esac
  for size in $sizes; do
    ok_if "$name renders at ${size}px" check_renders "$icon" "$size"
  done
done
ok_if "symbolic icon uses only #2e3436 fills" check_symbolic_style "${icons[1]}"

ok_if "metainfo passes appstreamcli validate --no-net --explain" validate_metainfo
ok_if "metainfo: id, licences, name, summary, description, launchable, OARS, translation" \
  flathub_check basics
ok_if "metainfo: developer with a reverse-DNS id and a name" flathub_check developer
ok_if "metainfo: homepage, bugtracker and vcs-browser URLs" flathub_check urls
ok_if "metainfo: releases dated, newest first, with descriptions" flathub_check releases
ok_if "metainfo: screenshots with captions, at most 1000x700, in data/screenshots" \
  flathub_check screenshots
ok_if "metainfo: light and dark brand colours" flathub_check branding
ok_if "metainfo: keyboard, pointing and touch, display length of 360 or more" \
  flathub_check devices
ok_if "metainfo: categories and keywords as in the desktop file" flathub_check desktop-match

ok_if "Flatpak manifest: ID, runtime, command, finish-args, one meson module, cleanup" \
  check_manifest
ok_if "Flatpak manifest parses with G_DEBUG=fatal-warnings flatpak-builder --show-manifest" \
  check_manifest_parses

for page in smtp-doctor-cli.1 smtp-doctor.1; do
  ok_if "$page formats without warnings" lint_man "$source_root/doc/$page"
done
ok_if "smtp-doctor-cli.1 documents every option of src/cli/main.c" \
  man_has_options "$source_root/src/cli/main.c" "$source_root/doc/smtp-doctor-cli.1"
ok_if "smtp-doctor.1 documents every option of src/app/doctor-application.c" \
  man_has_options "$source_root/src/app/doctor-application.c" "$source_root/doc/smtp-doctor.1"
ok_if "smtp-doctor-cli.1 has its sections" man_has_sections "$source_root/doc/smtp-doctor-cli.1" \
  NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" "JSON REPORT" FILES ENVIRONMENT SECURITY \
  EXAMPLES "SEE ALSO"
ok_if "smtp-doctor-cli.1 explains every exit status and JSON member" \
  man_cli_contract "$source_root/doc/smtp-doctor-cli.1"

echo "1..$n"
[ "$failed" -eq 0 ]
