"""The addresses a phone on the home network can open the page at.

One rule for the installer (which runs this file as a script, before any
venv exists: standard library only, no package imports) and for the page,
which shows the same addresses in its footer:

    python3 firmware_host/lan.py --host 0.0.0.0 --port 8080 [--hostname twitchmon]

prints one URL a line, the mDNS name first (``http://twitchmon.local:8080/``,
answered by avahi-daemon on Raspberry Pi OS), then the LAN address for
phones that do not resolve ``.local`` names.  A page bound to loopback has
no such address, and a wildcard bind ("0.0.0.0") is never printed as one.
"""
from __future__ import annotations

import argparse
import ipaddress
import socket

WILDCARDS = ("", "0.0.0.0", "::", "[::]")  # noqa: S104 - names, not a bind


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def primary_ipv4() -> str | None:
    """The address this machine sends from on its default route, or None.

    A UDP "connect" only chooses a route: nothing is sent.  It needs no
    netlink socket, so it also works inside the web unit's sandbox
    (RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: any routed address would do
        ip = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if ip.startswith("0.") or ipaddress.ip_address(ip).is_loopback else ip


def _url(host: str, port: int) -> str:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}/" if port == 80 else f"http://{host}:{port}/"


def page_urls(host: str, port: int, hostname: str | None = None) -> list[str]:
    """URLs a phone on the LAN can open, best first; [] for a loopback page.

    ``host`` is what the page binds (``serve --host``); ``hostname`` the
    machine's name (default: this machine's), advertised as NAME.local."""
    if is_loopback(host):
        return []
    if host not in WILDCARDS:  # bound to one address: that one
        return [_url(host, port)]
    urls = []
    name = (hostname or socket.gethostname()).split(".")[0]
    if name and name != "localhost":
        urls.append(_url(f"{name}.local", port))
    ip = primary_ipv4()
    if ip:
        urls.append(_url(ip, port))
    return urls


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="print the URLs a phone can open the page at")
    p.add_argument("--host", default="0.0.0.0", help="the address the page binds (serve --host)")  # noqa: S104
    p.add_argument("--port", type=int, default=8080, help="the page's TCP port")
    p.add_argument("--hostname", help="the machine's name (default: this machine's), for NAME.local")
    a = p.parse_args(argv)
    for u in page_urls(a.host, a.port, a.hostname):
        print(u)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
