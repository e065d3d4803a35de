"""systemd units, installer and the notify protocol."""
import configparser
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from twitchmon_testkit import needs

from firmware_host.config import load_config

ROOT = Path(__file__).resolve().parent.parent
SD = ROOT / "systemd"


def _render(tmp_path):
    prefix = tmp_path / "opt"
    exe = prefix / "venv" / "bin" / "twitchmon"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    out = tmp_path / "units"
    subprocess.run(["sh", str(SD / "install.sh"), "--render", str(out), "--prefix", str(prefix)], check=True)
    return out


def _unit(path):
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read(path)
    return cp


def test_units_pass_systemd_analyze_verify_without_a_warning(tmp_path):
    analyze = needs.program("systemd-analyze")  # Debian's systemd package, which .ci/run installs
    units = _render(tmp_path)
    r = subprocess.run([analyze, "verify", "--man=no", *sorted(map(str, units.iterdir()))],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", r.stderr


def test_daemon_unit_is_notify_watchdog_realtime_and_sandboxed(tmp_path):
    svc = _unit(_render(tmp_path) / "twitchmon.service")["Service"]
    assert svc["Type"] == "notify" and int(svc["WatchdogSec"]) > 0 and svc["Restart"] == "always"
    assert svc["CPUSchedulingPolicy"] == "fifo" and int(svc["CPUSchedulingPriority"]) > 0
    assert svc["CPUAffinity"] and int(svc["LimitRTPRIO"]) >= 50  # the sampler raises itself to 50
    assert svc["User"] == "twitchmon" and set(svc["SupplementaryGroups"].split()) == {"spi", "gpio"}
    assert svc["ProtectSystem"] == "strict" and svc["StateDirectory"] == "twitchmon"
    assert svc["PrivateNetwork"] == "yes" and svc["RestrictAddressFamilies"] == "AF_UNIX"
    assert "--config" in svc["ExecStart"] and " run " in svc["ExecStart"]
    web = _unit(_render(tmp_path / "w") / "twitchmon-web.service")["Service"]
    assert " serve " in web["ExecStart"] and "--host 127.0.0.1" in web["ExecStart"]


def test_install_dry_run_prints_its_plan_and_changes_nothing(tmp_path):
    prefix = tmp_path / "opt"
    r = subprocess.run(["sh", str(SD / "install.sh"), "--dry-run", "--prefix", str(prefix)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    plan = r.stdout
    for step in ("useradd --system", "spi,gpio", f"python3 -m venv {prefix}/venv", "pip install",
                 "/etc/twitchmon/twitchmon.toml", "install -d -o twitchmon", "/etc/systemd/system/twitchmon.service",
                 "systemctl daemon-reload", "systemctl enable --now twitchmon.service twitchmon-web.service"):
        assert step in plan, step
    assert not prefix.exists()
    r = subprocess.run(["sh", str(SD / "uninstall.sh"), "--dry-run", "--prefix", str(prefix)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "systemctl disable --now" in r.stdout and "kept: /var/lib/twitchmon" in r.stdout


def test_install_refuses_bad_options_in_one_line():
    r = subprocess.run(["sh", str(SD / "install.sh"), "--bogus"], capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


def test_shipped_settings_file_loads():
    cfg = load_config(SD / "twitchmon.toml")
    assert cfg.night_start.hour == 22 and cfg.raw_retention_days == 30


def test_daemon_tells_systemd_it_is_ready_and_pings_the_watchdog(tmp_path):
    sock_path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(sock_path)
    s.settimeout(30)
    env = dict(os.environ, NOTIFY_SOCKET=sock_path, WATCHDOG_USEC="1000000")
    p = subprocess.Popen([sys.executable, "-m", "firmware_host.cli", "run", "--source", "sim", "--always",
                          "--data-dir", str(tmp_path / "d")], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    got = []
    try:
        t_end = time.monotonic() + 40
        while time.monotonic() < t_end and got.count(b"WATCHDOG=1") < 3:
            got.append(s.recv(256))
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
        s.close()
    assert got[0] == b"READY=1" and got.count(b"WATCHDOG=1") >= 3


def _build():
    """hardware/build.py as a module (it writes the unit's device list from the pin table)."""
    import importlib.util
    path = Path(__file__).resolve().parent.parent / "hardware" / "build.py"
    spec = importlib.util.spec_from_file_location("build", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_unit_s_devices_are_the_pin_table_s(monkeypatch):
    """twitchmon.service may open exactly pins.DEVICES: its DeviceAllow lines
    are written from the table (python hardware/build.py) and stay so."""
    from firmware_host import pins
    build = _build()
    unit = build.UNIT.read_text(encoding="utf-8")
    assert build.unit_with_devices(unit) == unit, "systemd/twitchmon.service is stale: run python hardware/build.py"
    allowed = [line.split("=", 1)[1].rsplit(" ", 1)[0] for line in unit.splitlines() if line.startswith("DeviceAllow=")]
    assert allowed == list(pins.DEVICES) and allowed[0] == f"/dev/spidev{pins.SPI_BUS}.{pins.SPI_DEVICE}"
    monkeypatch.setattr(pins, "DEVICES", ("/dev/spidev1.0", "/dev/gpiochip0"))
    moved = build.unit_with_devices(unit)
    assert "DeviceAllow=/dev/spidev1.0 rw" in moved and "DeviceAllow=/dev/spidev0.0 rw" not in moved
