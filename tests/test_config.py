"""The settings file (firmware_host.config): documented defaults, inclusive
bounds, one line for every bad file, TOML's own times, and the page's
overrides on top of the file."""
import datetime as dt
import re
import tomllib
from zoneinfo import ZoneInfo

import pytest

from firmware_host import config as config_module
from firmware_host.config import Config, ConfigError, effective_config, load_config, merge, parse_config


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as e:
        parse_config(text, "t.toml")
    msg = str(e.value)
    assert msg.startswith("t.toml: ") and "\n" not in msg, msg
    return msg


def test_defaults_are_the_documented_ones():
    cfg = Config()
    assert (cfg.night_start, cfg.night_end, cfg.timezone) == (dt.time(22, 0), dt.time(7, 30), None)
    assert (cfg.sensitivity, cfg.raw_retention_days, cfg.min_free_mb) == (5.0, 30, 500.0)
    assert cfg.web_hosts == () and cfg.mqtt is None
    assert load_config(None) == cfg and parse_config("") == cfg


def test_the_module_docstring_example_shows_the_defaults():
    """The example file in the docstring (what the README points to) is
    valid and says the defaults, apart from its example time zone and hosts."""
    doc = config_module.__doc__
    example = "\n".join(ln[4:] for ln in doc.splitlines() if ln.startswith("    "))
    documented = tomllib.loads(example.split("[mqtt]")[0])
    cfg = parse_config(example.split("[mqtt]")[0])
    assert documented["night"]["timezone"] == cfg.timezone == "Europe/London"
    assert cfg.night_start == Config().night_start and cfg.night_end == Config().night_end
    assert (cfg.sensitivity, cfg.raw_retention_days, cfg.min_free_mb) == \
        (Config().sensitivity, Config().raw_retention_days, Config().min_free_mb)


@pytest.mark.parametrize("key,lo,hi,step", [("detector.sensitivity", 1, 10, 0.01),
                                            ("storage.raw_retention_days", 1, 3650, 1),
                                            ("storage.min_free_mb", 0, 10 ** 7, 0.5)])
def test_number_bounds_are_inclusive(key, lo, hi, step):
    section, name = key.split(".")
    field = {"sensitivity": "sensitivity", "raw_retention_days": "raw_retention_days",
             "min_free_mb": "min_free_mb"}[name]
    for ok in (lo, hi):
        assert getattr(parse_config(f"[{section}]\n{name} = {ok}"), field) == ok
    for bad in (lo - step, hi + step, "true", '"5"', "nan", "inf", "-inf"):  # TOML's own nan, inf too
        msg = _error(f"[{section}]\n{name} = {bad}")
        assert f"{key} = " in msg and f"from {lo:g} to {hi:g}" in msg


def test_values_come_through_with_their_types():
    cfg = parse_config("[detector]\nsensitivity = 7\n[storage]\nraw_retention_days = 14\nmin_free_mb = 200")
    assert cfg.sensitivity == 7.0 and isinstance(cfg.sensitivity, float)
    assert cfg.raw_retention_days == 14 and isinstance(cfg.raw_retention_days, int)
    assert cfg.min_free_mb == 200.0 and isinstance(cfg.min_free_mb, float)
    assert parse_config("[detector]\nsensitivity = 2.5").sensitivity == 2.5


def test_times_as_text_or_as_toml_times():
    cfg = parse_config('[night]\nstart = "21:15"\nend = " 06:05 "')
    assert (cfg.night_start, cfg.night_end) == (dt.time(21, 15), dt.time(6, 5))
    cfg = parse_config("[night]\nstart = 22:30:00\nend = 07:00:00")  # TOML's native local times
    assert (cfg.night_start, cfg.night_end) == (dt.time(22, 30), dt.time(7, 0))
    assert cfg.night_start.tzinfo is None
    assert parse_config('[night]\nstart = "00:00"\nend = "23:59"').night_end == dt.time(23, 59)


@pytest.mark.parametrize("value", ['"7pm"', '"24:00"', '"22:60"', '"22"', '"22:30:00"', "2230", "true",
                                   "2026-01-01T22:00:00", '""'])
def test_a_bad_time_is_one_line_naming_the_key(value):
    assert "night.start = " in _error(f"[night]\nstart = {value}")
    assert "night.end = " in _error(f"[night]\nend = {value}")


def test_same_start_and_end_is_refused_also_against_a_default():
    assert "same time" in _error('[night]\nstart = "22:00"\nend = "22:00"')
    assert "same time" in _error('[night]\nstart = "07:30"')  # the default end
    assert "same time" in _error('[night]\nend = "22:00"')  # the default start
    assert parse_config('[night]\nstart = "07:31"').night_start == dt.time(7, 31)


@pytest.mark.parametrize("value", ["5", '""', '"Mars/Olympus"', '"../../etc/passwd"', '"/UTC"', "[]"])
def test_a_bad_time_zone_is_one_line(value):
    assert "night.timezone = " in _error(f"[night]\ntimezone = {value}")


def test_time_zone_named_or_the_systems():
    cfg = parse_config('[night]\ntimezone = "Asia/Kolkata"')
    assert cfg.timezone == "Asia/Kolkata" and cfg.tz == ZoneInfo("Asia/Kolkata")
    system = Config().tz
    assert system is not None
    assert system.utcoffset(dt.datetime(2026, 1, 1)) == dt.datetime(2026, 1, 1).astimezone().utcoffset()


@pytest.mark.parametrize("text,says", [("night = 5", "night must be a [section]"),
                                       ("[nope]\nx = 1", "unknown section [nope] (known: detector, mqtt, night, "
                                                         "storage, web)"),
                                       ("[night]\nbogus = 1", "unknown key night.bogus"),
                                       ("[storage]\nsensitivity = 5", "unknown key storage.sensitivity"),
                                       ("not toml ==", "not valid TOML"),
                                       ("[mqtt]\nport = 1883", "mqtt")])
def test_structure_errors_are_one_line(text, says):
    assert says in _error(text)


def test_web_hosts():
    assert parse_config('[web]\nhosts = ["twitchmon.home", "bed1.local.", "Pi-4"]').web_hosts == \
        ("twitchmon.home", "bed1.local.", "Pi-4")
    assert parse_config("[web]\nhosts = []").web_hosts == ()
    longest = ".".join(["a" * 63] * 3 + ["a" * 61])
    assert len(longest) == 253 and parse_config(f'[web]\nhosts = ["{longest}"]').web_hosts == (longest,)
    for bad in ['"one.name"', '["a b"]', '["-x"]', "[5]", '["x/y"]', f'["{longest}a"]', f'["{"a" * 64}"]']:
        assert "web.hosts = " in _error(f"[web]\nhosts = {bad}")


def test_mqtt_section_is_parsed_or_refused_in_one_line():
    cfg = parse_config('[mqtt]\nhost = "broker.lan"\ndevice_id = "bed1"')
    assert cfg.mqtt is not None and cfg.mqtt.host == "broker.lan"
    assert parse_config("").mqtt is None


def test_settings_must_be_a_table():
    with pytest.raises(ConfigError, match="table of sections"):
        config_module.config_from_dict(["night"], "x")


def test_unreadable_files_are_one_line(tmp_path):
    def err(path):
        with pytest.raises(ConfigError) as e:
            load_config(path)
        assert "\n" not in str(e.value) and str(e.value).startswith(f"{path}: ")
        return str(e.value)

    assert "no such settings file" in err(tmp_path / "missing.toml")
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('[night]\ntimezone = "Europe/London" # café\n'.encode("latin-1"))
    assert "not a text file" in err(latin1)
    assert "cannot read" in err(tmp_path)  # a directory
    good = tmp_path / "good.toml"
    good.write_text('[night]\nstart = "23:00"\n', encoding="utf-8")
    assert load_config(good).night_start == dt.time(23, 0)
    assert load_config(str(good)) == load_config(good)


def test_merge_replaces_keys_section_by_section_and_leaves_the_base_alone():
    base = {"night": {"start": "22:00", "end": "07:00"}, "storage": {"min_free_mb": 100}}
    out = merge(base, {"night": {"start": "23:00"}, "detector": {"sensitivity": 3}, "bogus": 5})
    assert out == {"night": {"start": "23:00", "end": "07:00"}, "storage": {"min_free_mb": 100},
                   "detector": {"sensitivity": 3}}
    assert base == {"night": {"start": "22:00", "end": "07:00"}, "storage": {"min_free_mb": 100}}
    assert merge(base, None) == base and merge(base, {}) is not base
    assert merge({"web": 5}, {"web": {"hosts": []}}) == {"web": 5}  # a non-table base section is not merged into


class _Settings:
    def __init__(self, over):
        self.over = over

    def get_setting(self, key, default=None):
        assert key == "config"
        return self.over if self.over is not None else default


def test_effective_config_puts_the_pages_settings_over_the_file(tmp_path, capsys):
    f = tmp_path / "t.toml"
    f.write_text('[night]\nstart = "21:00"\nend = "06:00"\n[detector]\nsensitivity = 4\n')
    cfg = effective_config(f, _Settings({"night": {"start": "23:30"}}))
    assert (cfg.night_start, cfg.night_end, cfg.sensitivity) == (dt.time(23, 30), dt.time(6, 0), 4.0)
    assert effective_config(f, None) == load_config(f) == effective_config(f, _Settings({}))
    assert capsys.readouterr().err == ""
    # a hand-edited bad override is set aside with one line; the file still counts
    cfg = effective_config(f, _Settings({"detector": {"sensitivity": 99}}))
    assert cfg == load_config(f)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ignoring the page's settings" in err[0] and "detector.sensitivity" in err[0]
    with pytest.raises(ConfigError, match="no such settings file"):
        effective_config(tmp_path / "gone.toml", _Settings({}))
    assert effective_config(None, None) == Config()


def test_run_with_a_bad_config_is_one_line_exit_2(tmp_path, capsys):
    from firmware_host.cli import main
    for body in (b"[night]\ntimezone = 5\n", b"night = 5\n", b"\xff\xfe[night]\n"):
        bad = tmp_path / "bad.toml"
        bad.write_bytes(body)
        assert main(["run", "--source", "sim", "--config", str(bad), "--data-dir", str(tmp_path / "d")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and re.search(r"bad\.toml", err[0]), err


def test_settings_cannot_change_under_the_daemons_feet():
    import dataclasses
    cfg = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.sensitivity = 9.0
    assert {cfg: 1}[Config()] == 1  # frozen, so hashable and equal by value
