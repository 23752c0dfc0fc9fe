#!/usr/bin/env bash
# run-with-keyring.sh: runs a command against a real, unlocked GNOME Keyring of its own.
#
#   tests/run-with-keyring.sh COMMAND [ARGS…]
#
# The command runs inside a private session bus (dbus-run-session) on which a real
# gnome-keyring-daemon provides the Secret Service, its "login" collection created and unlocked
# with an empty password. HOME, the XDG base directories and XDG_RUNTIME_DIR point into a fresh
# temporary directory, so the keyring files live there and the user's real keyrings, session bus
# and display are never touched. The daemon is stopped and the directory removed at the end; the
# exit status is the command's.
set -euo pipefail

if [ $# -eq 0 ]; then
    sed -n '2,11p' "$0" >&2
    exit 2
fi

if [ "$1" != "--inside-session" ]; then
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/smtp-doctor-keyring.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp/home" "$tmp/data" "$tmp/config" "$tmp/cache" "$tmp/runtime" "$tmp/bus"
    chmod 0700 "$tmp/home" "$tmp/runtime" "$tmp/bus"

    # The standard session configuration would let D-Bus activate services from
    # /usr/share/dbus-1/services: a second keyring daemon, the portal, or gcr-prompter (which
    # fails without a display, noisily). On this bus only what is started below exists, so an
    # unlock prompt fails at once, as a dismissed one does.
    cat > "$tmp/session.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=$tmp/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF

    status=0
    env -u DBUS_SESSION_BUS_ADDRESS -u GNOME_KEYRING_CONTROL -u SSH_AUTH_SOCK -u SECRET_BACKEND \
        -u DISPLAY -u WAYLAND_DISPLAY \
        HOME="$tmp/home" \
        XDG_DATA_HOME="$tmp/data" \
        XDG_CONFIG_HOME="$tmp/config" \
        XDG_CACHE_HOME="$tmp/cache" \
        XDG_RUNTIME_DIR="$tmp/runtime" \
        dbus-run-session --config-file="$tmp/session.conf" -- "$0" --inside-session "$@" ||
        status=$?
    exit "$status"
fi
shift

# gnome-keyring-daemon reads the login password from stdin when given --unlock. No input at all
# means "no password", and then it creates no collection; a single empty line is the empty
# password, with which gnome-keyring 42 creates the "login" collection, unlocked, and makes it
# the default. With --daemonize it prints VAR=value lines for its clients (GNOME_KEYRING_CONTROL,
# when not in $XDG_RUNTIME_DIR/keyring) and returns, but before the daemon owns its bus name.
# The daemon is the test's surroundings, not under test: it runs without the GLib and malloc
# debugging the test environment asks for (gnome-keyring 42 warns when an item is replaced, and
# G_DEBUG=fatal-warnings would make that a crash).
output=$(printf '\n' |
    env -u G_DEBUG -u G_ENABLE_DIAGNOSTIC -u G_SLICE -u MALLOC_CHECK_ -u MALLOC_PERTURB_ \
        gnome-keyring-daemon --unlock --components=secrets --daemonize)
while IFS= read -r line; do
    case "$line" in
        [A-Z_]*=*) export "$line" ;;
    esac
done <<< "$output"

bus_call() {
    dbus-send --session --print-reply=literal "$@"
}

for _ in $(seq 100); do
    owned=$(bus_call --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets | awk '{ print $NF }')
    [ "$owned" = "true" ] && break
    sleep 0.05
done
if [ "$owned" != "true" ]; then
    echo "run-with-keyring.sh: gnome-keyring-daemon did not provide org.freedesktop.secrets" >&2
    exit 1
fi

daemon_pid=$(bus_call --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets |
    awk '{ print $NF }')

stop_daemon() {
    kill "$daemon_pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 "$daemon_pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$daemon_pid" 2>/dev/null || true
}
trap stop_daemon EXIT

# Without a default collection every store would need a prompt to create one, so check that
# the "default" alias leads to an unlocked collection before running anything.
collection=$(bus_call --dest=org.freedesktop.secrets /org/freedesktop/secrets \
    org.freedesktop.Secret.Service.ReadAlias string:default | awk '{ print $NF }')
if [ -z "$collection" ] || [ "$collection" = "/" ]; then
    echo "run-with-keyring.sh: gnome-keyring-daemon has no default collection" >&2
    exit 1
fi
locked=$(bus_call --dest=org.freedesktop.secrets "$collection" \
    org.freedesktop.DBus.Properties.Get string:org.freedesktop.Secret.Collection string:Locked |
    awk '{ print $NF }')
if [ "$locked" != "false" ]; then
    echo "run-with-keyring.sh: the default collection $collection is locked" >&2
    exit 1
fi

status=0
"$@" || status=$?
exit "$status"
