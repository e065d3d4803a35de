#!/bin/sh
# Install twitchmon on a Raspberry Pi (Raspberry Pi OS, systemd).
#
#   sudo systemd/install.sh [--dry-run] [--prefix DIR] [--host H] [--port P] [--hostname NAME]
#   sudo systemd/install.sh --update [--dry-run]     # git pull, a fresh venv, restart
#   sudo systemd/install.sh --uninstall [--purge] [--dry-run]   # systemd/uninstall.sh
#   systemd/install.sh --render DIR     # write the two units, filled in, to DIR
#
# Enables SPI, creates the twitchmon user (in the spi and gpio groups), a
# venv under PREFIX (default /opt/twitchmon) with twitchmon installed from
# this checkout and linked as /usr/local/bin/twitchmon, the settings file
# /etc/twitchmon/twitchmon.toml, the data dir /var/lib/twitchmon, and the two
# systemd units; then starts them and runs `twitchmon doctor`.  Running it
# again (after `git pull`) updates twitchmon and keeps the recorded nights and
# the settings.  --update does that in one step: git pull (as the checkout's
# owner), the venv built anew, the page's address kept from the installed
# unit, restart.  gpiozero needs a pin factory that works on the board: lgpio
# on a Pi 5 (RPi.GPIO cannot reach its RP1 chip), lgpio or RPi.GPIO on a Pi 3,
# 4 or Zero 2 W.  Raspberry Pi OS ships them as apt packages (python3-lgpio,
# python3-spidev), so the venv sees the system's site-packages; on 64-bit ARM
# pip also has an lgpio wheel.
# --dry-run prints every step and changes nothing (any machine, no root).
#
# The page listens on 127.0.0.1 unless --host says otherwise.  With
# --host 0.0.0.0 (the home network) the Pi is named NAME.local by mDNS
# (avahi-daemon): --hostname NAME, else "twitchmon" when the Pi still has
# the factory name "raspberrypi", else its own name is kept.  The last lines
# say which addresses a phone can open, and how to set the owner's password
# (sudo twitchmon passwd), which the page asks for on the home network.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(dirname "$HERE")
PREFIX=/opt/twitchmon
ETC=/etc/twitchmon
DATA=/var/lib/twitchmon
HOST=127.0.0.1
PORT=8080
NAME=""
DRY=0
HOST_SET=0
PORT_SET=0
RENDER=""
UPDATE=0
CLEAR=0
UNITS=${TWITCHMON_UNIT_DIR:-/etc/systemd/system}  # (another dir only for tests)

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY=1 ;;
        --prefix) PREFIX=$2; shift ;;
        --host) HOST=$2; HOST_SET=1; shift ;;
        --port) PORT=$2; PORT_SET=1; shift ;;
        --hostname) NAME=$2; shift ;;
        --render) RENDER=$2; shift ;;
        --update) UPDATE=1 ;;
        --clear-venv) CLEAR=1 ;;  # (--update's second half: the venv built anew)
        --uninstall) shift; [ "$DRY" -eq 0 ] || set -- --dry-run "$@"; exec sh "$HERE/uninstall.sh" --prefix "$PREFIX" "$@" ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

render() {  # render UNIT OUTFILE
    sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@ETC@|$ETC|g" -e "s|@HOST@|$HOST|g" -e "s|@PORT@|$PORT|g" \
        "$HERE/$1" > "$2"
}

if [ -n "$RENDER" ]; then
    mkdir -p "$RENDER"
    render twitchmon.service "$RENDER/twitchmon.service"
    render twitchmon-web.service "$RENDER/twitchmon-web.service"
    exit 0
fi

run() {  # print the step; do it unless --dry-run
    echo "+ $*"
    if [ "$DRY" -eq 0 ]; then "$@"; fi
}
note() { echo "# $*"; }

if [ "$DRY" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run as root (sudo), or with --dry-run to see the plan" >&2
    exit 1
fi
[ "$DRY" -eq 1 ] && note "dry run: nothing below is done"

if [ "$UPDATE" -eq 1 ]; then
    # the page's address as installed, unless given again
    if [ -f "$UNITS/twitchmon-web.service" ]; then
        CMD=$(sed -n 's/^ExecStart=//p' "$UNITS/twitchmon-web.service")
        [ "$HOST_SET" -eq 1 ] || HOST=$(echo "$CMD" | sed -n 's/.* --host \([^ ]*\).*/\1/p')
        [ "$PORT_SET" -eq 1 ] || PORT=$(echo "$CMD" | sed -n 's/.* --port \([^ ]*\).*/\1/p')
        HOST=${HOST:-127.0.0.1} PORT=${PORT:-8080}
    fi
    note "update: the code from git, the venv anew, the page kept on $HOST:$PORT; nights, settings and password kept"
    if [ -e "$SRC/.git" ]; then
        # as the checkout's owner: root would leave root-owned files in it (and git refuses another's repo)
        run runuser -u "$(stat -c %U "$SRC")" -- git -C "$SRC" pull --ff-only
    else
        note "$SRC is not a git checkout: updating from it as it is"
    fi
    # the pulled installer does the rest
    set -- --clear-venv --prefix "$PREFIX" --host "$HOST" --port "$PORT"
    [ -z "$NAME" ] || set -- "$@" --hostname "$NAME"
    [ "$DRY" -eq 0 ] || set -- "$@" --dry-run
    exec sh "$HERE/install.sh" "$@"
fi

note "1. SPI on (/dev/spidev0.0)"
if command -v raspi-config >/dev/null 2>&1; then
    run raspi-config nonint do_spi 0
else
    note "raspi-config not found (not Raspberry Pi OS?): enable SPI yourself (dtparam=spi=on)"
fi

note "2. the twitchmon user, in the spi and gpio groups"
for g in spi gpio; do
    getent group "$g" >/dev/null 2>&1 || run groupadd --system "$g"
done
if id twitchmon >/dev/null 2>&1; then
    run usermod -a -G spi,gpio twitchmon
else
    run useradd --system --home-dir "$DATA" --shell /usr/sbin/nologin --groups spi,gpio twitchmon
fi

note "3. a venv in $PREFIX with twitchmon from $SRC, seeing the system's GPIO and SPI modules"
if command -v apt-get >/dev/null 2>&1 && apt-cache show python3-lgpio >/dev/null 2>&1; then
    run apt-get install -y --no-install-recommends python3-lgpio python3-spidev
else
    note "no python3-lgpio in apt (not Raspberry Pi OS?): pip brings lgpio where it has a wheel"
fi
if [ "$CLEAR" -eq 1 ]; then
    # the running services use the old venv: stopped while it is rebuilt (by day: nothing is recorded)
    run systemctl stop twitchmon.service twitchmon-web.service
    run python3 -m venv --clear "$PREFIX/venv" --system-site-packages
elif [ ! -x "$PREFIX/venv/bin/python" ]; then
    run python3 -m venv "$PREFIX/venv" --system-site-packages
elif grep -q "include-system-site-packages = false" "$PREFIX/venv/pyvenv.cfg" 2>/dev/null; then
    run sed -i "s/include-system-site-packages = false/include-system-site-packages = true/" "$PREFIX/venv/pyvenv.cfg"
fi
run "$PREFIX/venv/bin/pip" install --quiet --upgrade "$SRC"
run install -m 0644 "$SRC/README.md" "$PREFIX/README.md"
# on PATH for people (`sudo twitchmon passwd`); the units keep the full path
run ln -sfn "$PREFIX/venv/bin/twitchmon" /usr/local/bin/twitchmon

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

note "4. settings and data"
if [ ! -f "$ETC/twitchmon.toml" ]; then
    run install -D -m 0644 "$HERE/twitchmon.toml" "$ETC/twitchmon.toml"
else
    note "$ETC/twitchmon.toml exists: kept"
fi
run install -d -o twitchmon -g twitchmon -m 0750 "$DATA"

case "$HOST" in
    127.*|localhost|::1) LAN=0 ;;
    *) LAN=1 ;;
esac
if [ "$LAN" -eq 1 ]; then
    OLD=$(hostname)
    [ -n "$NAME" ] || { if [ "$OLD" = raspberrypi ]; then NAME=twitchmon; else NAME=$OLD; fi; }
    note "5. a name on the home network: $NAME.local (mDNS, answered by avahi-daemon)"
    if [ "$OLD" != "$NAME" ]; then
        run hostnamectl set-hostname "$NAME"
        # sudo resolves the machine's own name through /etc/hosts (Raspberry Pi OS: 127.0.1.1)
        run sed -i "s/^127\.0\.1\.1[[:space:]].*/127.0.1.1\t$NAME/" /etc/hosts
    fi
    command -v avahi-daemon >/dev/null 2>&1 || run apt-get install -y avahi-daemon
    # advertise the page too, so network browsers (Bonjour) list it by name
    cat > "$TMP/avahi.service" <<EOF
<?xml version="1.0" standalone='no'?>
<!DOCTYPE service-group SYSTEM "avahi-service.dtd">
<service-group>
  <name replace-wildcards="yes">twitchmon on %h</name>
  <service><type>_http._tcp</type><port>$PORT</port></service>
</service-group>
EOF
    run install -D -m 0644 "$TMP/avahi.service" /etc/avahi/services/twitchmon.service
    run systemctl enable avahi-daemon.service
    run systemctl restart avahi-daemon.service
else
    note "5. the page stays on this Pi (127.0.0.1): no name on the home network (--host 0.0.0.0 gives one)"
fi

note "6. systemd units"
render twitchmon.service "$TMP/twitchmon.service"
render twitchmon-web.service "$TMP/twitchmon-web.service"
for u in twitchmon.service twitchmon-web.service; do
    run install -m 0644 "$TMP/$u" "$UNITS/$u"
done
run systemctl daemon-reload
run systemctl enable --now twitchmon.service twitchmon-web.service
run systemctl restart twitchmon.service twitchmon-web.service

note "6. checks: SPI, GPIO pin factory, clock, free space, the page"
[ "$DRY" -eq 0 ] && sleep 3  # the page takes a moment to listen
run "$PREFIX/venv/bin/twitchmon" doctor --data-dir "$DATA" --config "$ETC/twitchmon.toml" --host "$HOST" --port "$PORT" \
    || note "doctor found a problem above: the units run, but fix it before the night"
note "done. logs: journalctl -u twitchmon -u twitchmon-web"
if [ "$LAN" -eq 1 ]; then
    # the same rule the page's footer uses, never the wildcard 0.0.0.0
    echo "Open the page on your phone (same Wi-Fi):"
    python3 "$SRC/firmware_host/lan.py" --host "$HOST" --port "$PORT" --hostname "$NAME" | sed 's/^/    /'
    echo "Set the owner's password first (the page asks for it): sudo twitchmon passwd"
else
    echo "The page is on this Pi only: http://127.0.0.1:$PORT/ (run again with --host 0.0.0.0 for your phone)"
fi
