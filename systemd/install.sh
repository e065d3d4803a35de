#!/bin/sh
# Install twitchmon on a Raspberry Pi (Raspberry Pi OS, systemd).
#
#   sudo systemd/install.sh [--dry-run] [--prefix DIR] [--host H] [--port P]
#   systemd/install.sh --render DIR     # write the two units, filled in, to DIR
#
# Enables SPI, creates the twitchmon user (in the spi and gpio groups), a
# venv under PREFIX (default /opt/twitchmon) with twitchmon installed from
# this checkout, the settings file /etc/twitchmon/twitchmon.toml, the data
# dir /var/lib/twitchmon, and the two systemd units; then starts them and
# runs `twitchmon doctor`.  gpiozero needs a pin factory that works on the
# board: lgpio on a Pi 5 (RPi.GPIO cannot reach its RP1 chip), lgpio or
# RPi.GPIO on a Pi 3, 4 or Zero 2 W.  Raspberry Pi OS ships them as apt
# packages (python3-lgpio, python3-spidev), so the venv sees the system's
# site-packages; on 64-bit ARM pip also has an lgpio wheel.
# Running it again changes only what is missing or out of date.
# --dry-run prints every step and changes nothing (any machine, no root).
#
# The page listens on 127.0.0.1 unless --host says otherwise; before opening
# it to the LAN (--host 0.0.0.0) set the owner's password:
#   sudo -u twitchmon /opt/twitchmon/venv/bin/twitchmon passwd --data-dir /var/lib/twitchmon
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(dirname "$HERE")
PREFIX=/opt/twitchmon
ETC=/etc/twitchmon
DATA=/var/lib/twitchmon
HOST=127.0.0.1
PORT=8080
DRY=0
RENDER=""

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY=1 ;;
        --prefix) PREFIX=$2; shift ;;
        --host) HOST=$2; shift ;;
        --port) PORT=$2; shift ;;
        --render) RENDER=$2; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
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
if [ ! -x "$PREFIX/venv/bin/python" ]; then
    run python3 -m venv "$PREFIX/venv" --system-site-packages
elif grep -q "include-system-site-packages = false" "$PREFIX/venv/pyvenv.cfg" 2>/dev/null; then
    run sed -i "s/include-system-site-packages = false/include-system-site-packages = true/" "$PREFIX/venv/pyvenv.cfg"
fi
run "$PREFIX/venv/bin/pip" install --quiet --upgrade "$SRC"
run install -m 0644 "$SRC/README.md" "$PREFIX/README.md"

note "4. settings and data"
if [ ! -f "$ETC/twitchmon.toml" ]; then
    run install -D -m 0644 "$HERE/twitchmon.toml" "$ETC/twitchmon.toml"
else
    note "$ETC/twitchmon.toml exists: kept"
fi
run install -d -o twitchmon -g twitchmon -m 0750 "$DATA"

note "5. systemd units"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
render twitchmon.service "$TMP/twitchmon.service"
render twitchmon-web.service "$TMP/twitchmon-web.service"
for u in twitchmon.service twitchmon-web.service; do
    run install -m 0644 "$TMP/$u" "/etc/systemd/system/$u"
done
run systemctl daemon-reload
run systemctl enable --now twitchmon.service twitchmon-web.service
run systemctl restart twitchmon.service twitchmon-web.service

note "6. checks: SPI, GPIO pin factory, clock, free space, the page"
[ "$DRY" -eq 0 ] && sleep 3  # the page takes a moment to listen
run "$PREFIX/venv/bin/twitchmon" doctor --data-dir "$DATA" --config "$ETC/twitchmon.toml" --host "$HOST" --port "$PORT" \
    || note "doctor found a problem above: the units run, but fix it before the night"
note "done: the page is on http://$HOST:$PORT/ ; logs: journalctl -u twitchmon -u twitchmon-web"
