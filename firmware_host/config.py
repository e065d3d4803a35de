"""The appliance's settings file (``twitchmon run --config F``), TOML.

Every key is optional; a missing file section means the defaults below.
A bad file is one clear line (``ConfigError``) and the daemon does not
start on half a configuration.

    [night]
    start = "22:00"              # local time the night window opens
    end = "07:30"                # and closes (may be past midnight)
    timezone = "Europe/London"   # IANA name; default: the system's

    [detector]
    sensitivity = 5              # 1 (only clear twitches) .. 10 (smallest)

    [storage]
    raw_retention_days = 30      # raw EDF older than this is deleted; counts stay
    min_free_mb = 500            # stop raw recording below this, keep counting

    [web]
    hosts = ["twitchmon.home"]   # names the page answers to on the LAN, besides
                                 # its IP addresses and this machine's name(.local)

    [mqtt]                       # absent: MQTT off (see firmware_host/mqtt.py)
    host = "broker.lan"
    port = 1883                  # default 8883 with tls_ca
    username = "bed1"
    password_file = "/etc/twitchmon/mqtt-password"   # readable only by the service
    tls_ca = "/etc/twitchmon/mqtt-ca.pem"            # TLS, the broker checked against this CA
    topic_prefix = "twitchmon"
    device_id = "bed1"           # default: the hostname
"""
from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import TwitchmonError
from .log import get_logger
from .mqtt import KEYS as MQTT_KEYS
from .mqtt import MqttConfig, MqttError, parse_section


class ConfigError(TwitchmonError, ValueError):
    """The settings file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Config:
    night_start: dt.time = dt.time(22, 0)
    night_end: dt.time = dt.time(7, 30)
    timezone: str | None = None  #: IANA name; None: the system's local zone
    sensitivity: float = 5.0
    raw_retention_days: int = 30
    min_free_mb: float = 500.0
    web_hosts: tuple[str, ...] = ()  #: extra names in the page's Host allow-list ([web] hosts)
    mqtt: MqttConfig | None = None  #: the broker to publish to; None: MQTT off

    @property
    def tz(self) -> dt.tzinfo:
        if self.timezone:
            return ZoneInfo(self.timezone)
        return dt.datetime.now().astimezone().tzinfo  # the system's zone


def _time(where: str, key: str, v) -> dt.time:
    if isinstance(v, dt.time):
        return v.replace(tzinfo=None)
    if isinstance(v, str):
        try:
            h, m = v.strip().split(":")
            return dt.time(int(h), int(m))
        except ValueError:
            pass
    raise ConfigError(f"{where}: {key} = {v!r} is not a time like \"22:30\"")


#: a number as people type it: ASCII digits, an optional sign and decimal point (Python's
#: float() also takes "nan", "inf", "1e0", "1_0" and other scripts' digits, which no form sends)
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def decimal_number(text: str) -> float:
    """``text`` (a form's field, a command's option) as a number; ValueError
    unless it is plain ASCII digits with an optional sign and decimal point."""
    t = text.strip()
    if not _DECIMAL.fullmatch(t):
        raise ValueError(f"{text[:20]!r} is not a number")
    return float(t)


def _number(where: str, key: str, v, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        raise ConfigError(f"{where}: {key} = {v!r} must be a number from {lo:g} to {hi:g}")
    return float(v)


KNOWN = {"night": {"start", "end", "timezone"}, "detector": {"sensitivity"},
         "storage": {"raw_retention_days", "min_free_mb"}, "web": {"hosts"},
         "mqtt": set(MQTT_KEYS)}


def parse_config(text: str, where: str = "config") -> Config:
    return config_from_dict(_toml(text, where), where)


def _toml(text: str, where: str) -> dict:
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None


def config_from_dict(raw: dict, where: str = "config") -> Config:
    """A Config from the settings file's structure ({"night": {...}, ...})."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: settings must be a table of sections")
    for section, value in raw.items():
        if section not in KNOWN:
            raise ConfigError(f"{where}: unknown section [{section}] (known: {', '.join(sorted(KNOWN))})")
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {section} must be a [section]")
        for key in value:
            if key not in KNOWN[section]:
                raise ConfigError(f"{where}: unknown key {section}.{key}")
    night, det, sto = raw.get("night", {}), raw.get("detector", {}), raw.get("storage", {})
    kw = {}
    if "start" in night:
        kw["night_start"] = _time(where, "night.start", night["start"])
    if "end" in night:
        kw["night_end"] = _time(where, "night.end", night["end"])
    if kw.get("night_start", Config.night_start) == kw.get("night_end", Config.night_end):
        raise ConfigError(f"{where}: night.start and night.end are the same time")
    if "timezone" in night:
        tz = night["timezone"]
        try:
            if not isinstance(tz, str) or not tz:
                raise ZoneInfoNotFoundError(tz)
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{where}: night.timezone = {tz!r} is not a known time zone") from None
        kw["timezone"] = tz
    if "sensitivity" in det:
        kw["sensitivity"] = _number(where, "detector.sensitivity", det["sensitivity"], 1, 10)
    if "raw_retention_days" in sto:
        kw["raw_retention_days"] = int(_number(where, "storage.raw_retention_days", sto["raw_retention_days"], 1, 3650))
    if "min_free_mb" in sto:
        kw["min_free_mb"] = _number(where, "storage.min_free_mb", sto["min_free_mb"], 0, 10 ** 7)
    if "hosts" in raw.get("web", {}):
        kw["web_hosts"] = _hosts(where, raw["web"]["hosts"])
    if "mqtt" in raw:
        try:
            kw["mqtt"] = parse_section(raw["mqtt"], where)
        except MqttError as exc:
            raise ConfigError(str(exc)) from None
    return Config(**kw)


def _hosts(where: str, v) -> tuple[str, ...]:
    name = re.compile(r"\.?[a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*\.?", re.I)
    if not isinstance(v, list) or not all(isinstance(h, str) and len(h) <= 253 and name.fullmatch(h) for h in v):
        raise ConfigError(f"{where}: web.hosts = {v!r} must be a list of host names like \"twitchmon.home\"")
    return tuple(v)


def load_config(path: str | Path | None) -> Config:
    """The settings in ``path``; the defaults when ``path`` is None."""
    return config_from_dict(load_raw(path), str(path))


def merge(base: dict, overrides: dict) -> dict:
    """``base`` with each section's keys replaced by those in ``overrides``."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for section, values in (overrides or {}).items():
        if isinstance(values, dict):
            out.setdefault(section, {})
            if isinstance(out[section], dict):
                out[section].update(values)
    return out


def effective_config(path: str | Path | None, store) -> Config:
    """The settings file, with what the owner changed on the page's Settings
    (store setting ``config``, same structure) on top.  A bad override
    (it is checked before it is stored, so only a hand-edited store) is
    ignored rather than stopping the daemon."""
    raw = load_raw(path)
    over = store.get_setting("config", {}) if store is not None else {}
    if over:
        try:
            return config_from_dict(merge(raw, over), "settings page")
        except ConfigError as exc:
            get_logger(__name__).warning(f"ignoring the page's settings: {exc}")
    return config_from_dict(raw, str(path))


def load_raw(path: str | Path | None) -> dict:
    if path is None:
        return {}
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such settings file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a text file") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
    return _toml(text, str(p))
