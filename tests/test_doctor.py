"""twitchmon doctor: one line per check, on the emulator and gpiozero's mock pins."""
import datetime as dt
import socket
import subprocess
import sys
import time

from firmware_host import doctor
from firmware_host.mcp3008_emulator import MCP3008Emulator


def test_spi_check_reads_the_emulated_chip():
    emu = MCP3008Emulator(seed=1)
    emu.set_codes([500, 510, 520, 530])
    verdict, text = doctor.check_spi(emu, ioctl=emu.ioctl)
    assert verdict == "ok" and "[500, 510, 520, 530]" in text


def test_spi_check_fails_on_a_dead_bus_and_warns_on_a_silent_chip():
    emu = MCP3008Emulator(seed=1)
    emu.fail_transfers = 10
    verdict, text = doctor.check_spi(emu, ioctl=emu.ioctl)
    assert verdict == "FAIL" and "failed" in text
    emu = MCP3008Emulator(seed=1)
    emu.set_codes([1023] * 8)  # MISO pulled high: no chip answering
    assert doctor.check_spi(emu, ioctl=emu.ioctl)[0] == "warn"


def test_pin_factory_check_on_the_mock_factory():
    from gpiozero import LED
    from gpiozero.pins.mock import MockFactory
    f = MockFactory()
    verdict, text = doctor.check_pin_factory(f)
    assert verdict == "ok" and "mock" in text
    busy = LED("GPIO17", pin_factory=f)  # something else holds the LED's pin
    try:
        verdict, text = doctor.check_pin_factory(f)
        assert verdict == "FAIL" and "GPIO17" in text
    finally:
        busy.close()


def test_clock_check():
    now = dt.datetime(2026, 5, 4, 23, 0, tzinfo=dt.timezone.utc)
    assert doctor.check_clock(now, synced=True)[0] == "ok"
    assert doctor.check_clock(now, synced=False)[0] == "warn"
    assert doctor.check_clock(dt.datetime(1970, 1, 1, 0, 5, tzinfo=dt.timezone.utc), synced=None)[0] == "FAIL"


def test_space_check(tmp_path):
    assert doctor.check_space(tmp_path, 1.0)[0] in ("ok", "warn")
    verdict, text = doctor.check_space(tmp_path / "not" / "yet", 1e12)  # a floor no disk has
    assert verdict == "FAIL" and "MB free" in text


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_page_check_against_the_real_page(tmp_path):
    port = _free_port()
    assert doctor.check_page("127.0.0.1", port)[0] == "FAIL"
    p = subprocess.Popen([sys.executable, "-m", "firmware_host.cli", "serve", "--data-dir", str(tmp_path),
                          "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t_end = time.monotonic() + 30
        while doctor.check_page("127.0.0.1", port)[0] != "ok" and time.monotonic() < t_end:
            time.sleep(0.2)
        verdict, text = doctor.check_page("127.0.0.1", port)
        assert verdict == "ok" and f":{port}/" in text
    finally:
        p.terminate()
        p.wait(20)


def test_doctor_command_gives_one_line_per_check(tmp_path):
    r = subprocess.run([sys.executable, "-m", "firmware_host.cli", "doctor", "--data-dir", str(tmp_path),
                        "--port", str(_free_port())], capture_output=True, text=True,
                       env={**__import__("os").environ, "GPIOZERO_PIN_FACTORY": "mock"}, timeout=60)
    lines = r.stdout.splitlines()
    assert lines[0].startswith("board: ") and len(lines) == 6, r.stdout + r.stderr
    verdicts = {ln.split()[1]: ln.split()[0] for ln in lines[1:]}
    assert set(verdicts) == {"SPI", "pins", "clock", "space", "page"}
    assert verdicts["pins"] == "ok" and verdicts["page"] == "FAIL"  # nothing serves that port
    assert r.returncode == 1 and r.stderr == ""
