#!/usr/bin/env bash
# The desktop-integration files in data/: the merged desktop entry passes desktop-file-validate
# and carries the categories and search keywords the menu needs, the GSettings schema compiles
# strictly, and both icons are well-formed SVG that librsvg renders.
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

echo "1..$n"
[ "$failed" -eq 0 ]
