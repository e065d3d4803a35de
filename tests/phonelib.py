"""The builder's path from install to a phone, on a machine without a Pi.

Run as root inside fresh network and UTS namespaces (``unshare -nu python
tests/phonelib.py WORKDIR``), so nothing here touches the machine's real
network: this namespace is "the Pi", named twitchmon, with one veth cable
to a second namespace, "the phone" (10.77.0.2).  It follows the README:
``install.sh --dry-run --host 0.0.0.0``, ``twitchmon passwd``, the page on
0.0.0.0, then the phone opens the address the installer printed, logs in
and reads the Settings page.  Prints one JSON object with what it saw.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "owl at night 7"
PORT = 8080  # the installer's default: this namespace has no other server


def sh(*cmd: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60, **kw)


def cable(phone_pid: int) -> None:
    """The Pi at 10.77.0.1 with its default route via the phone's end, as on a home LAN."""
    sh("hostname", "twitchmon")
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "link", "add", "pi0", "type", "veth", "peer", "name", "phone0")
    sh("ip", "link", "set", "phone0", "netns", str(phone_pid))
    sh("ip", "addr", "add", "10.77.0.1/24", "dev", "pi0")
    sh("ip", "link", "set", "pi0", "up")
    sh("ip", "route", "add", "default", "via", "10.77.0.2")
    ns = ["nsenter", "-t", str(phone_pid), "-n"]
    sh(*ns, "ip", "link", "set", "lo", "up")
    sh(*ns, "ip", "addr", "add", "10.77.0.2/24", "dev", "phone0")
    sh(*ns, "ip", "link", "set", "phone0", "up")


PHONE = r"""
import http.cookiejar, json, re, sys, urllib.parse, urllib.request
url, password = sys.argv[1], sys.argv[2]
op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
first = op.open(url, timeout=10)
login_html = first.read().decode()
tok = re.search(r'name="csrf_token" value="([^"]+)"', login_html).group(1)
body = urllib.parse.urlencode({"csrf_token": tok, "password": password}).encode()
after = op.open(first.geturl(), data=body, timeout=10)
home = after.read().decode()
settings = op.open(url.rstrip("/") + "/settings", timeout=10).read().decode()
print(json.dumps({"first_url": first.geturl(), "login_page": "Owner's password" in login_html,
                  "home_h1": re.search(r"<h1>(.*?)</h1>", home).group(1),
                  "settings_links": re.findall(r'<section id="phone">.*?</section>', settings, re.S)}))
"""


def main(work: Path) -> dict:
    exe = sys.executable
    phone = subprocess.Popen(["unshare", "-n", "sleep", "120"])
    try:
        time.sleep(0.2)
        cable(phone.pid)
        plan = sh("sh", str(ROOT / "systemd" / "install.sh"), "--dry-run", "--host", "0.0.0.0",
                  "--prefix", str(work / "opt")).stdout
        urls = [ln.strip() for ln in plan.splitlines() if ln.strip().startswith("http://")]
        data = work / "data"
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        pw = subprocess.run([exe, "-m", "firmware_host.cli", "passwd", "--data-dir", str(data)],
                            input=PASSWORD + "\n", capture_output=True, text=True, env=env, timeout=60)
        page = subprocess.Popen([exe, "-m", "firmware_host.cli", "serve", "--data-dir", str(data),
                                 "--host", "0.0.0.0", "--port", str(PORT)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            ip_url = next((u for u in urls if re.match(r"http://\d", u)), None)
            seen, err = None, ""
            deadline = time.monotonic() + 30
            while ip_url and time.monotonic() < deadline:
                r = subprocess.run(["nsenter", "-t", str(phone.pid), "-n", exe, "-c", PHONE, ip_url, PASSWORD],
                                   capture_output=True, text=True, timeout=30)
                if r.returncode == 0:
                    seen = json.loads(r.stdout)
                    break
                err = r.stderr.strip().splitlines()[-1:] if r.stderr else ""
                time.sleep(0.3)
        finally:
            page.terminate()
            page.wait(10)
        return {"plan_tail": plan.splitlines()[-4:], "urls": urls, "passwd_out": pw.stdout.strip(),
                "passwd_rc": pw.returncode, "phone": seen, "phone_error": err}
    finally:
        phone.kill()
        phone.wait()


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
