"""systemd's notify protocol (``Type=notify``, ``WatchdogSec=``), no library.

``sd_notify("READY=1")`` once sampling runs; ``sd_notify("WATCHDOG=1")``
while blocks keep arriving from the sampler.  Outside systemd
(``$NOTIFY_SOCKET`` unset) every call is a no-op returning False.
"""
from __future__ import annotations

import os
import socket


def sd_notify(state: str) -> bool:
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):  # abstract namespace
        addr = "\0" + addr[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(addr)
            s.sendall(state.encode())
        return True
    except OSError:
        return False


def watchdog_interval_s() -> float | None:
    """Half the watchdog period systemd asked for (``$WATCHDOG_USEC``), or None."""
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec or not usec.isdigit():
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    return int(usec) / 2e6
