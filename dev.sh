#!/usr/bin/env bash
# dev.sh: one entry point for newcomers and CI on Debian 12.
#
#   ./dev.sh run [ARGS…]   install what is missing, build, and start SMTP Doctor (the desktop
#                          app; ARGS such as smtp://host:587 --run)
#   ./dev.sh cli ARGS…     the same for the command line, smtp-doctor-cli ARGS…
#   ./dev.sh test          install what is missing, build, and run the whole test suite,
#                          once normally and once under AddressSanitizer + UBSan
#   ./dev.sh deps          only install the Debian packages
set -euo pipefail

cd "$(dirname "$0")"

PACKAGES=(
  meson ninja-build pkg-config gcc gettext
  libglib2.0-dev libjson-glib-dev glib-networking
  ca-certificates openssl python3-aiosmtpd iproute2 iptables dnsmasq-base
  desktop-file-utils gtk-update-icon-cache librsvg2-bin libxml2-utils
  libgtk-4-dev libadwaita-1-dev adwaita-icon-theme fonts-cantarell
  xvfb xauth dbus valgrind
  libsecret-1-dev gnome-keyring libsecret-tools
  appstream man-db groff-base flatpak-builder
  locales strace util-linux mount
)

install_deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing: ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
}

build() {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@"
  fi
  ninja -C "$dir"
}

case "${1:-}" in
  deps)
    install_deps
    ;;
  run)
    shift
    install_deps
    build build >/dev/null
    # Run in place: the schema and the translations built in the tree stand in for the
    # installed ones.
    GSETTINGS_SCHEMA_DIR="$PWD/build/data" SMTP_DOCTOR_LOCALEDIR="$PWD/build/po" \
      exec ./build/src/app/smtp-doctor "$@"
    ;;
  cli)
    shift
    install_deps
    build build >/dev/null
    SMTP_DOCTOR_LOCALEDIR="$PWD/build/po" exec ./build/src/cli/smtp-doctor-cli "$@"
    ;;
  test)
    install_deps
    build build
    meson test -C build --print-errorlogs
    build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:intercept_tls_get_addr=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LSAN_OPTIONS=suppressions="$PWD/tests/lsan.supp":print_suppressions=0 \
      meson test -C build-asan --print-errorlogs
    ;;
  *)
    sed -n '2,10p' "$0"
    exit 3
    ;;
esac
