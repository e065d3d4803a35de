"""The page only reads: after every page has rendered, its process holds
none of the daemon's side (daemon, detector, ADC, sampler, traces, scipy,
EDF libraries), and no module under web/ imports one of them."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_host.live import publish
from firmware_host.store import open_store
from twitchmon_testkit.pagewalk import DAEMON_SIDE

ROOT = Path(__file__).resolve().parent.parent
WALK = ROOT / "tests" / "support" / "pagewalk.py"


@pytest.fixture(scope="module")
def night_dir(tmp_path_factory):
    """Two simulated nights with raw recordings and waveforms, and a live ring."""
    from firmware_host.demo import fill_nights
    d = tmp_path_factory.mktemp("walk") / "data"
    fill_nights(str(d), 2, 2.0, log=lambda *_: None)
    st = open_store(d)
    ring = publish(st, d, 4, 1000.0)
    ring.write([[512] * 4] * 2000)
    st.close()
    yield d
    ring.close()


def test_after_every_page_the_process_holds_nothing_of_the_daemon(night_dir):
    r = subprocess.run([sys.executable, str(WALK), str(night_dir)], capture_output=True, text=True,
                       cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.splitlines()[-1])
    assert len(out["rendered"]) >= 25
    assert all(code == 200 for code in out["rendered"].values()), out["rendered"]
    assert any("/waveforms" in u for u in out["rendered"]) and "/tonight" in out["rendered"]
    assert out["modules"] == []


def _imports(path: Path) -> list[str]:
    """Every module a file imports, anywhere in it (inside functions too)."""
    tree = ast.parse(path.read_text(), str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            if node.module == "firmware_host":  # from firmware_host import daemon
                names += [f"firmware_host.{a.name}" for a in node.names]
    return names


def test_no_module_under_web_imports_the_daemon_side():
    bad = []
    for path in sorted((ROOT / "web").rglob("*.py")):
        for name in _imports(path):
            if any(name == p or name.startswith(p + ".") for p in DAEMON_SIDE):
                bad.append(f"{path.relative_to(ROOT)}: {name}")
    assert bad == []


def test_the_scan_sees_an_import_inside_a_function(tmp_path):
    p = tmp_path / "m.py"
    p.write_text("def f():\n    from firmware_host import detector\n    import scipy.signal\n")
    assert "firmware_host.detector" in _imports(p) and "scipy.signal" in _imports(p)
