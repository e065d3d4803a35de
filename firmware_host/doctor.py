"""``twitchmon doctor``: is this board ready to record?  One line per check.

Checks the SPI device and the MCP3008 behind it, gpiozero's pin factory
(lgpio on a Pi 5; lgpio or RPi.GPIO on a Pi 3, 4 or Zero 2 W), the clock,
the free space in the data dir, and whether the page answers at its
address.  Each check gives ``ok``, ``warn`` (works, but see the line) or
``FAIL`` and one sentence; the exit status is 1 if any check failed.  The
installer runs it as its last step.
"""
from __future__ import annotations

import datetime as dt
import http.client
import shutil
import socket
import subprocess
import warnings
from pathlib import Path

from gpiozero import LED, Button, Device

from . import pins
from .adc import MCP3008, ADCError, open_spidev
from .config import load_config
from .paths import data_dir
from .schedule import clock_is_set

RAW_MB_PER_HOUR = pins.N_CHANNELS * 1000 * 2 * 3600 / 1e6  #: EDF+ of 4 channels at 1 kHz, 16 bits: 28.8 MB an hour


def board() -> str:
    """The board's model from the device tree ('' when not a Pi)."""
    try:
        return Path("/proc/device-tree/model").read_bytes().rstrip(b"\0").decode(errors="replace")
    except OSError:
        return ""


def check_spi(spi=None, channels: int = pins.N_CHANNELS, **adc_kw) -> tuple[str, str]:
    """Open the SPI device (or use ``spi``) and read each channel once."""
    where = pins.SPI_DEVICE_PATH
    try:
        adc = MCP3008(spi if spi is not None else open_spidev(), **adc_kw)
        codes = adc.read_many(list(range(channels)))
    except ADCError as exc:
        return "FAIL", str(exc)
    if all(c in (0, pins.ADC_MAX_CODE) for c in codes):
        return "warn", (f"{where} opens but every channel reads {codes} (0 or {pins.ADC_MAX_CODE}): "
                        "is the MCP3008 powered and wired (hardware page)?")
    return "ok", f"{where} answers: CH0..CH{channels - 1} read {codes} codes"


def check_pin_factory(pin_factory=None) -> tuple[str, str]:
    """gpiozero's pin factory, and the LED and button pins claimed and let go."""
    try:
        with warnings.catch_warnings():  # gpiozero warns for each factory it falls back from: the verdict says it
            warnings.simplefilter("ignore")
            factory = pin_factory or Device.pin_factory or Device._default_pin_factory()
    except Exception as exc:  # noqa: BLE001 - gpiozero's BadPinFactory and import errors alike
        return "FAIL", (f"gpiozero finds no pin factory ({exc}); on a Pi 5 it needs lgpio: "
                        "apt install python3-lgpio, with a venv made --system-site-packages")
    name = type(factory).__name__.replace("Factory", "").lower()
    try:
        led = LED(pins.LED_PIN, pin_factory=factory)
        button = Button(pins.BUTTON_PIN, pull_up=True, pin_factory=factory)
        led.close()
        button.close()
    except Exception as exc:  # noqa: BLE001
        if "busy" in str(exc).lower():  # lgpio: the running daemon holds them, as it should
            return "ok", f"gpiozero pin factory: {name}; {pins.LED_PIN}/{pins.BUTTON_PIN} held (by the daemon?)"
        return "FAIL", f"pin factory {name} cannot drive {pins.LED_PIN}/{pins.BUTTON_PIN}: {exc}"
    return "ok", f"gpiozero pin factory: {name}; LED {pins.LED_PIN} and button {pins.BUTTON_PIN} free"


def check_clock(now: dt.datetime | None = None, synced: bool | None = None) -> tuple[str, str]:
    """Is the clock set, and is NTP keeping it so?"""
    now = now or dt.datetime.now(dt.timezone.utc)
    if synced is None:
        synced = _ntp_synchronised()
    stamp = now.strftime("%Y-%m-%d %H:%M UTC")
    if not clock_is_set(now):
        return "FAIL", f"the clock says {stamp}: not set (no network time yet); nights will be dated when it is"
    if synced is False:
        return "warn", f"{stamp}, but not synchronised with network time (timedatectl)"
    return "ok", f"{stamp}" + (", synchronised with network time" if synced else "")


def _ntp_synchronised() -> bool | None:
    if not shutil.which("timedatectl"):
        return None
    try:
        r = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"], capture_output=True,
                           text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {"yes": True, "no": False}.get(r.stdout.strip())


def check_space(data_dir, min_free_mb: float) -> tuple[str, str]:
    """Free space in the data dir, in hours of raw recording."""
    p = Path(data_dir)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        free_mb = shutil.disk_usage(p).free / 1e6
    except OSError as exc:
        return "FAIL", f"{data_dir}: {exc.strerror or exc}"
    hours = (free_mb - min_free_mb) / RAW_MB_PER_HOUR
    text = f"{free_mb:,.0f} MB free in {data_dir}: {max(hours, 0):,.0f} h of raw recording"
    if free_mb < min_free_mb:
        return "FAIL", text + f" (under the {min_free_mb:g} MB floor: raw recording stops, counting goes on)"
    if hours < 24:
        return "warn", text + " (less than three nights)"
    return "ok", text


def check_page(host: str, port: int, timeout_s: float = 3.0) -> tuple[str, str]:
    """Does the page answer at its address?"""
    ask = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    url = f"http://{ask}:{port}/"
    try:
        c = http.client.HTTPConnection(ask, port, timeout=timeout_s)
        c.request("GET", "/api/tonight")
        status = c.getresponse().status
        c.close()
    except OSError as exc:
        return "FAIL", f"nothing answers on {url} ({exc.strerror or exc}): systemctl status twitchmon-web"
    if status != 200:
        return "FAIL", f"{url} answers HTTP {status}"
    if host in ("0.0.0.0", "::"):
        return "ok", f"the page answers on {url} and on this board's LAN address{_lan()}, port {port}"
    return "ok", f"the page answers on {url}" + (" (this board only: install --host 0.0.0.0 for the LAN)"
                                                 if ask.startswith("127.") else "")


def _lan() -> str:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.168.0.1", 9))  # picks the route; a UDP connect sends nothing
            return f" ({s.getsockname()[0]})"
    except OSError:
        return ""


def run(args, out=print) -> int:
    """All checks, one line each; 1 if any failed."""
    cfg = load_config(args.config)
    model = board()
    out(f"board: {model or 'not a Raspberry Pi (no /proc/device-tree/model)'}")
    checks = [("SPI", lambda: check_spi()), ("pins", check_pin_factory), ("clock", check_clock),
              ("space", lambda: check_space(data_dir(args.data_dir), cfg.min_free_mb)),
              ("page", lambda: check_page(args.host, args.port))]
    failed = 0
    for name, check in checks:
        verdict, text = check()
        failed += verdict == "FAIL"
        out(f"{verdict:<4} {name:<5} {text}")
    return 1 if failed else 0
