"""The update and removal path (issue 18): ``install.sh --update`` pulls the
code as the checkout's owner, builds the venv anew and restarts, keeping the
nights, the settings and the page's address; ``install.sh --uninstall``
keeps the nights unless --purge.  Both shown by their --dry-run plans."""
import os
import pwd
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / "systemd" / "install.sh"


def _plan(*args, env=None):
    r = subprocess.run(["sh", str(INSTALL), *args], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, **(env or {})))
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def _at(lines, text):
    return next(i for i, line in enumerate(lines) if text in line)


def test_update_pulls_as_the_owner_rebuilds_the_venv_and_keeps_nights_settings_and_address(tmp_path):
    units = tmp_path / "units"
    subprocess.run(["sh", str(INSTALL), "--render", str(units), "--host", "0.0.0.0", "--port", "8091"], check=True)
    before = {p.name: p.read_text() for p in units.iterdir()}
    prefix = tmp_path / "opt"
    plan = _plan("--update", "--dry-run", "--prefix", str(prefix), env={"TWITCHMON_UNIT_DIR": str(units)})
    text = "\n".join(plan)
    owner = pwd.getpwuid(ROOT.stat().st_uid).pw_name
    pull = _at(plan, f"+ runuser -u {owner} -- git -C {ROOT} pull --ff-only")
    stop = _at(plan, "+ systemctl stop twitchmon.service twitchmon-web.service")
    clear = _at(plan, f"+ python3 -m venv --clear {prefix}/venv")
    pip = _at(plan, f"+ {prefix}/venv/bin/pip install --quiet --upgrade {ROOT}")
    unit = _at(plan, f"{units}/twitchmon-web.service")
    restart = _at(plan, "+ systemctl restart twitchmon.service twitchmon-web.service")
    assert pull < stop < clear < pip < unit < restart
    assert "kept on 0.0.0.0:8091" in text and ":8091/" in plan[-2]  # the address as installed
    assert "127.0.0.1" not in text  # not back to the Pi only
    assert not [line for line in plan if line.startswith("+ rm") or "userdel" in line], text
    assert "/var/lib/twitchmon" not in "\n".join(line for line in plan if "--clear" in line)
    assert not prefix.exists() and {p.name: p.read_text() for p in units.iterdir()} == before


def test_update_keeps_a_port_given_again_and_says_when_the_source_is_no_checkout(tmp_path):
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "systemd", copy / "systemd")  # a source tree from a tarball: no .git
    r = subprocess.run(["sh", str(copy / "systemd" / "install.sh"), "--update", "--dry-run", "--port", "9000",
                        "--prefix", str(tmp_path / "opt")], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, TWITCHMON_UNIT_DIR=str(tmp_path / "none")))
    assert r.returncode == 0, r.stderr
    assert "not a git checkout" in r.stdout and "git -C" not in r.stdout
    assert "127.0.0.1:9000" in r.stdout


def test_uninstall_through_the_installer_keeps_the_nights_unless_purged(tmp_path):
    prefix = tmp_path / "opt"
    plan = "\n".join(_plan("--dry-run", "--uninstall", "--prefix", str(prefix)))
    assert "systemctl disable --now twitchmon.service twitchmon-web.service" in plan
    assert f"rm -rf {prefix}" in plan and "kept: /var/lib/twitchmon" in plan
    assert "rm -rf /var/lib/twitchmon" not in plan
    purge = "\n".join(_plan("--uninstall", "--purge", "--dry-run", "--prefix", str(prefix)))
    assert "rm -rf /var/lib/twitchmon /etc/twitchmon" in purge and "userdel twitchmon" in purge
    assert not prefix.exists()
