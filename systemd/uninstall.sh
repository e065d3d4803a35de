#!/bin/sh
# Remove twitchmon's services and venv.  Recorded nights in /var/lib/twitchmon
# and the settings in /etc/twitchmon are kept unless --purge is given.
#
#   sudo systemd/uninstall.sh [--dry-run] [--purge] [--prefix DIR]
set -eu
PREFIX=/opt/twitchmon
DRY=0
PURGE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY=1 ;;
        --purge) PURGE=1 ;;
        --prefix) PREFIX=$2; shift ;;
        *) echo "uninstall.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
run() { echo "+ $*"; if [ "$DRY" -eq 0 ]; then "$@" || true; fi; }
if [ "$DRY" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    echo "uninstall.sh: run as root (sudo), or with --dry-run" >&2
    exit 1
fi
run systemctl disable --now twitchmon.service twitchmon-web.service
run rm -f /etc/systemd/system/twitchmon.service /etc/systemd/system/twitchmon-web.service
run systemctl daemon-reload
run rm -rf "$PREFIX"
# what install.sh added for people and the home network (the Pi's name stays)
run rm -f /usr/local/bin/twitchmon /etc/avahi/services/twitchmon.service
if [ "$PURGE" -eq 1 ]; then
    run rm -rf /var/lib/twitchmon /etc/twitchmon
    run userdel twitchmon
else
    echo "# kept: /var/lib/twitchmon (your nights) and /etc/twitchmon; --purge removes them"
fi
