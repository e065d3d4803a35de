"""The builder's path: install, the password, the address a phone opens.

The walk from ``install.sh`` to a phone runs in its own network and UTS
namespaces (root and ``unshare``): skipped where they cannot be made,
a failure on CI.
"""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from html import unescape
from pathlib import Path

import pytest

from firmware_host.store import open_store
from web import create_app

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / "systemd" / "install.sh"
ENV = dict(os.environ, PYTHONPATH=str(ROOT))
NOBODY = 65534


def _passwd(data_dir, password="owl at night 7", **kw):
    return subprocess.run([sys.executable, "-m", "firmware_host.cli", "passwd", "--data-dir", str(data_dir)],
                          input=password + "\n", capture_output=True, text=True, env=ENV, timeout=60, **kw)


def test_install_for_the_lan_names_a_phone_address_and_puts_twitchmon_on_path(tmp_path):
    r = subprocess.run(["sh", str(INSTALL), "--dry-run", "--host", "0.0.0.0", "--hostname", "twitchmon",
                        "--prefix", str(tmp_path / "opt")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert f"ln -sfn {tmp_path}/opt/venv/bin/twitchmon /usr/local/bin/twitchmon" in out
    assert "/etc/avahi/services/twitchmon.service" in out and "twitchmon.local" in out
    tail = out[out.index("Open the page on your phone"):]
    assert "http://twitchmon.local:8080/" in tail
    assert "0.0.0.0" not in tail  # never the wildcard as an address
    assert "sudo twitchmon passwd" in tail
    assert not (tmp_path / "opt").exists()
    r = subprocess.run(["sh", str(ROOT / "systemd" / "uninstall.sh"), "--dry-run", "--prefix", str(tmp_path / "opt")],
                       capture_output=True, text=True, timeout=60)
    assert "rm -f /usr/local/bin/twitchmon /etc/avahi/services/twitchmon.service" in r.stdout


def test_install_keeps_a_name_the_owner_chose_and_renames_only_the_factory_one(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    for name in ("raspberrypi", "kitchen-pi"):
        (fake / "hostname").write_text(f"#!/bin/sh\necho {name}\n")
        (fake / "hostname").chmod(0o755)
        r = subprocess.run(["sh", str(INSTALL), "--dry-run", "--host", "0.0.0.0", "--prefix", str(tmp_path / "o")],
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, PATH=f"{fake}:{os.environ['PATH']}"))
        assert r.returncode == 0, r.stderr
        want = "twitchmon" if name == "raspberrypi" else name
        assert f"http://{want}.local:8080/" in r.stdout
        assert ("hostnamectl set-hostname twitchmon" in r.stdout) == (name == "raspberrypi")


def test_install_on_loopback_says_the_page_is_on_the_pi_only(tmp_path):
    r = subprocess.run(["sh", str(INSTALL), "--dry-run", "--prefix", str(tmp_path / "opt")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "hostnamectl" not in r.stdout and "avahi" not in r.stdout
    assert "--host 0.0.0.0 for your phone" in r.stdout.splitlines()[-1]


def _can_make_namespaces() -> str | None:
    if not shutil.which("unshare") or not shutil.which("nsenter") or not shutil.which("ip"):
        return "unshare, nsenter or ip missing"
    r = subprocess.run(["unshare", "-nu", "ip", "link", "add", "a0", "type", "veth", "peer", "name", "b0"],
                       capture_output=True, text=True)
    return None if r.returncode == 0 else f"cannot make a network namespace here: {r.stderr.strip()}"


def test_a_phone_in_another_network_namespace_opens_the_page_at_the_address_the_installer_printed(tmp_path):
    why = _can_make_namespaces()
    if why:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    r = subprocess.run(["unshare", "-nu", sys.executable, str(ROOT / "tests" / "phonelib.py"), str(tmp_path)],
                       capture_output=True, text=True, timeout=120, env=ENV)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["urls"] == ["http://twitchmon.local:8080/", "http://10.77.0.1:8080/"], got
    assert got["passwd_rc"] == 0 and str(tmp_path / "data") in got["passwd_out"]
    phone = got["phone"]
    assert phone, got["phone_error"]
    assert phone["first_url"].startswith("http://10.77.0.1:8080/login") and phone["login_page"]
    assert phone["home_h1"] == "Nights"  # logged in with the password passwd set
    assert all(f'href="{u}"' in phone["settings_links"][0] for u in got["urls"])  # the page names them too


def test_passwd_says_which_data_dir_it_wrote(tmp_path):
    r = _passwd(tmp_path / "d")
    assert r.returncode == 0 and str(tmp_path / "d") in r.stdout, r.stdout
    st = open_store(tmp_path / "d")
    assert st.get_setting("password_hash")
    st.close()


def _traversable_tmp() -> Path:
    base = Path(tempfile.mkdtemp(prefix="twitchmon-passwd-"))
    base.chmod(0o755)
    return base


def _readable_code(base: Path) -> Path:
    """The project's package and the installed packages ``twitchmon
    passwd`` imports (werkzeug and its markupsafe), copied under ``base``."""
    src = base / "src"
    shutil.copytree(ROOT / "firmware_host", src / "firmware_host")
    for name in ("werkzeug", "markupsafe"):
        shutil.copytree(importlib.util.find_spec(name).submodule_search_locations[0], src / name)
    return src


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_passwd_as_a_user_who_cannot_write_the_service_data_dir_says_so_and_writes_nothing():
    base = _traversable_tmp()
    try:
        service = base / "var-lib-twitchmon"
        service.mkdir(mode=0o750)  # root's, as the twitchmon user's is to a login user
        home = base / "home"
        home.mkdir()
        os.chown(home, NOBODY, NOBODY)
        code = ("import sys; from pathlib import Path; import firmware_host.paths as p; "
                f"p.SYSTEM_DIR = Path({str(service)!r}); from firmware_host.cli import main; "
                "sys.exit(main(['passwd']))")
        env = {k: v for k, v in ENV.items() if k not in ("TWITCHMON_DATA", "XDG_DATA_HOME")}
        env["HOME"] = str(home)
        # the venv's interpreter may sit under root's home: Debian's, with
        # copies of the code it runs, as the checkout and its venv may sit
        # under a directory only root can enter (mktemp -d makes it 0700)
        py = Path("/usr/bin/python3")
        if not py.exists():
            pytest.skip("no interpreter the nobody user can run")
        env["PYTHONPATH"] = str(_readable_code(base))
        r = subprocess.run([str(py), "-c", code], input="owl at night 7\n", capture_output=True,
                           text=True, env=env, timeout=60, user=NOBODY, group=NOBODY, extra_groups=[])
        assert r.returncode == 1, (r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and str(service) in lines[0] and "sudo twitchmon passwd" in lines[0]
        assert list(home.rglob("*")) == []  # no password where the service never looks
    finally:
        shutil.rmtree(base)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_sudo_passwd_leaves_the_database_to_the_data_dir_s_owner():
    base = _traversable_tmp()
    try:
        d = base / "data"
        d.mkdir(mode=0o750)
        os.chown(d, NOBODY, NOBODY)
        r = _passwd(d)
        assert r.returncode == 0, r.stderr
        files = list(d.iterdir())
        assert files and {f.stat().st_uid for f in files} == {NOBODY}, [(f.name, f.stat().st_uid) for f in files]
    finally:
        shutil.rmtree(base)


def test_the_login_page_names_the_command_for_its_own_data_dir(tmp_path):
    d = tmp_path / "my data"
    app = create_app({"DATA_DIR": str(d), "HOST": "192.168.1.20", "TESTING": True})
    html = unescape(app.test_client().get("/login").get_data(as_text=True))
    assert re.search(r"<code>twitchmon passwd --data-dir '[^']*my data'</code>", html), html


def _as_owner(app, client):
    """A logged-in owner's session, of the store's current generation (a
    session from before a logout-all or a password change does not count)."""
    with app.app_context():
        gen = app.get_store().session_generation()
    with client.session_transaction() as s:
        s["owner"] = True
        s["gen"] = gen
        s["sid"] = "test-session"  # the id "log out" revokes


def test_settings_names_the_phone_address_and_never_the_wildcard(tmp_path):
    lan = create_app({"DATA_DIR": str(tmp_path / "a"), "HOST": "0.0.0.0", "TESTING": True})
    c = lan.test_client()
    _as_owner(lan, c)
    html = c.get("/settings", base_url="http://localhost:8080").get_data(as_text=True)
    section = re.search(r'<section id="phone">.*?</section>', html, re.S).group(0)
    import socket
    assert f"http://{socket.gethostname().split('.')[0]}.local:8080/" in section
    assert "0.0.0.0" not in section
    one_app = create_app({"DATA_DIR": str(tmp_path / "b"), "HOST": "192.168.1.20", "TESTING": True})
    one = one_app.test_client()
    _as_owner(one_app, one)
    assert 'href="http://192.168.1.20:8080/"' in one.get("/settings", base_url="http://localhost:8080").text
    loop = create_app({"DATA_DIR": str(tmp_path / "c"), "HOST": "127.0.0.1", "TESTING": True}).test_client()
    assert "open on the Pi itself only" in loop.get("/settings").text


def test_readme_walks_a_builder_from_parts_to_the_morning_before_the_reference():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    heads = [h for h in re.findall(r"^## (.+)$", text, re.M)]
    path = ["Two commands for a fresh machine", "What it is, and what it is not", "Build one", "Install it on the Pi",
            "The first night", "The morning glance", "Updating and removing", "Reference", "For developers"]
    assert [h for h in heads if h in path] == path, heads
    assert heads[0] == path[0]
    build = text[text.index("## Build one"):text.index("## Install it on the Pi")]
    assert "(hardware/BOM.csv)" in build and "(hardware/WIRING.md)" in build and "Bookworm" in build
    install = text[text.index("## Install it on the Pi"):text.index("## The first night")]
    assert "git clone" in install and "install.sh --host 0.0.0.0" in install and "sudo twitchmon passwd" in install
    assert "twitchmon.local" in install and "0.0.0.0:" not in install
    for shot in re.findall(r"\((docs/screenshots/[^)]+\.png)\)", text):
        assert (ROOT / shot).is_file(), shot
