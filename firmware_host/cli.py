"""The ``twitchmon`` command line (contracts section 1).

Exit status: 0 success; 2 bad usage or unreadable input, with one line on
stderr that says what and where; 1 other failure.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
from pathlib import Path

from . import __version__

DISCLAIMER = ("twitchmon is not a medical device and does not diagnose. Persistent or spreading "
              "twitching, weakness or muscle wasting are reasons to see a doctor.")


class UsageError(Exception):
    """Bad usage or unreadable input: exit 2 with this one line."""


class StartError(Exception):
    """A failure at start that is not bad usage (a busy port, no SPI device): exit 1 with this one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        raise UsageError(f"{self.prog}: {message}")


def _positive(kind):
    def conv(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not v > 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
        return v
    return conv


def _port(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= v <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="twitchmon", description="Counts leg-muscle twitches at rest, night by night. "
                + DISCLAIMER)
    p.add_argument("--version", action="version", version=f"twitchmon {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    d = sub.add_parser("demo", help="zero set-up tour: simulated nights and the web page on 127.0.0.1")
    d.add_argument("--port", type=_port, default=8080)
    d.add_argument("--nights", type=int, default=5, help="simulated nights to fill (default 5)")
    d.add_argument("--minutes", type=_positive(float), default=20.0, help="length of each simulated night")

    r = sub.add_parser("run", help="the appliance daemon: sample, detect, record, schedule")
    r.add_argument("--source", default=None, help="adc | sim | FILE (default: adc on a Pi, else sim)")
    r.add_argument("--data-dir")
    r.add_argument("--config")
    r.add_argument("--always", action="store_true", help="count and record from now on, whatever the window")
    r.add_argument("--rate", type=_positive(float), default=None, help="samples/s per channel (default 1000)")
    r.add_argument("--channels", type=int, default=None)
    r.add_argument("--seed", type=int, default=0, help="simulator seed for --source sim")

    s = sub.add_parser("serve", help="the web page and JSON API over a data dir")
    s.add_argument("--data-dir")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=_port, default=8080)
    s.add_argument("--config")

    rp = sub.add_parser("replay", help="run the detector over recordings as fast as it can, one process per core")
    rp.add_argument("files", nargs="+", metavar="FILE")
    rp.add_argument("--json", action="store_true", help="print each file's report as one line of JSON")
    rp.add_argument("--save", action="store_true", help="store each result as a night")
    rp.add_argument("--jobs", type=_positive(int), default=None, help="processes (default: every core)")
    rp.add_argument("--data-dir")
    rp.add_argument("--rate", type=_positive(float), default=None, help="rate for a CSV without a t column")
    rp.add_argument("--sensitivity", type=_positive(float), default=5.0, help="1 (least) .. 10 (most)")
    rp.add_argument("--check", action="store_true",
                    help="add known twitches to a copy of the signal and report what was found of them")

    sm = sub.add_parser("simulate", help="write a labelled synthetic night and its truth")
    sm.add_argument("--minutes", type=_positive(float), required=True)
    sm.add_argument("--out", required=True)
    sm.add_argument("--seed", type=int, default=0)
    sm.add_argument("--channels", type=int, default=4)
    sm.add_argument("--rate", type=_positive(float), default=1000.0)
    sm.add_argument("--profile", default="normal", help="normal, hard, quiet, family or a stress profile (firmware_host.simulator.PROFILES)")
    sm.add_argument("--start", default=None, help="ISO-8601 time of the first sample (default 2026-01-01T23:00Z)")

    rc = sub.add_parser("record", help="raw ADC to a file, for building fixtures on a real device")
    rc.add_argument("--minutes", type=_positive(float), required=True)
    rc.add_argument("--out", required=True)
    rc.add_argument("--source", default="adc")
    rc.add_argument("--rate", type=_positive(float), default=1000.0)
    rc.add_argument("--channels", type=int, default=4)

    pw = sub.add_parser("passwd", help="set the owner's password for the web page; says which data dir it wrote")
    pw.add_argument("--data-dir", help="the data dir the page serves (default: as every command, see README)")

    bd = sub.add_parser("beds", help="list the beds publishing to an MQTT broker, with their last night")
    bd.add_argument("--broker", required=True, metavar="HOST[:PORT]", help="the MQTT broker to listen on")
    bd.add_argument("--topic-prefix", default="twitchmon", help="the beds' topic prefix (default: twitchmon)")
    bd.add_argument("--username", help="the broker's user name, if it asks for one")
    bd.add_argument("--password-file", help="a file holding the broker's password")
    bd.add_argument("--tls-ca", help="CA file: TLS, the broker's certificate checked against it")
    bd.add_argument("--wait", type=_positive(float), default=2.0, help="seconds to listen after subscribing")
    bd.add_argument("--json", action="store_true", help="one JSON object per bed")

    dr = sub.add_parser("doctor", help="check SPI, GPIO pins, clock, free space and the page: one line each")
    dr.add_argument("--data-dir")
    dr.add_argument("--config")
    dr.add_argument("--host", default="127.0.0.1", help="the page's address (as installed)")
    dr.add_argument("--port", type=_port, default=8080)
    _fill_help(p)
    return p


#: help for options several commands share, by dest: one wording wherever they appear
SHARED_HELP = {
    "data_dir": "where nights and settings live (default: $TWITCHMON_DATA, else /var/lib/twitchmon "
                "when writable, else ~/.local/share/twitchmon)",
    "config": "settings file, TOML ([night], [detector], [storage], [mqtt]; see systemd/twitchmon.toml)",
    "host": "address the page listens on: 127.0.0.1 this machine only (default), 0.0.0.0 the home network",
    "port": "TCP port of the page",
    "rate": "samples per second per channel, Hz",
    "channels": "sensor channels",
    "seed": "random seed: the same seed gives the same night",
    "minutes": "length, minutes",
    "out": "file to write; its extension picks the format (.edf, .wav, .npz, .csv)",
    "profile": "kind of night: normal, hard (more faults and movement) or quiet (no twitches)",
    "source": "adc (the MCP3008) or sim (the simulator)",
    "file": "recording to analyse: EDF/EDF+, WAV, .npz or CSV",
    "files": "recordings to analyse: EDF/EDF+, WAV, .npz or CSV",
    # the [mqtt] settings' names, for commands that talk to a broker
    "broker": "the MQTT broker, HOST[:PORT]",
    "topic_prefix": "first level of the MQTT topics",
    "username": "user name on the MQTT broker",
    "password_file": "file holding the MQTT password (kept out of the command line)",
}


def _fill_help(parser: argparse.ArgumentParser) -> None:
    """Give every option without its own help the shared wording for its dest
    (and its default, when it has one)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _fill_help(sub)
        elif action.help is None and action.dest in SHARED_HELP:
            action.help = SHARED_HELP[action.dest]
            if action.default is not None and action.default is not False and action.default != argparse.SUPPRESS:
                action.help += " (default %(default)s)"


def main(argv: list[str] | None = None) -> int:
    import threading  # noqa: PLC0415

    if threading.current_thread() is threading.main_thread():
        # the installed console script too (not only ``python -m``): SIGTERM unwinds
        # like Ctrl-C, so the demo removes its temp dir and the daemon its night
        signal.signal(signal.SIGTERM, _sigterm_to_exit)
    try:
        args = build_parser().parse_args(argv)
        return _dispatch(args)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except StartError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def _dispatch(args) -> int:
    import sqlite3  # noqa: PLC0415

    from .adc import ADCError  # noqa: PLC0415
    from .config import ConfigError  # noqa: PLC0415
    from .store import ReadOnlyDataDir, StoreError, describe, unavailable  # noqa: PLC0415
    from .traces import TraceError  # noqa: PLC0415

    try:
        return COMMANDS[args.cmd](args)
    except (TraceError, ConfigError, StoreError) as exc:
        raise UsageError(f"twitchmon {args.cmd}: {exc}") from None
    except (ADCError, ReadOnlyDataDir) as exc:
        print(f"twitchmon {args.cmd}: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        raise
    except OSError as exc:  # the disk or the network at start (full, read-only, a busy port): one line
        from web import ListenError  # noqa: PLC0415
        if isinstance(exc, ListenError):
            _say_listen_error(args, exc.__cause__)
        if not exc.strerror:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        raise StartError(f"twitchmon {args.cmd}: {where}{exc.strerror}") from None
    except sqlite3.Error as exc:  # busy, full, read-only at a write: the store says which
        if not unavailable(exc):
            raise
        raise StartError(f"twitchmon {args.cmd}: {describe(exc)}") from None


# -- commands ----------------------------------------------------------------

def cmd_replay(args) -> int:
    from .replay import run  # noqa: PLC0415

    return run(args.files, jobs=args.jobs, as_json=args.json, save=args.save, data_dir=args.data_dir,
               rate_hz=args.rate, sensitivity=args.sensitivity, check=args.check)


def _parse_start(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime(2026, 1, 1, 23, 0, tzinfo=dt.timezone.utc)
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"twitchmon simulate: --start {text!r} is not an ISO-8601 time") from None
    return t if t.tzinfo else t.astimezone()


def write_simulated(night, out: str | os.PathLike, start: dt.datetime) -> dict:
    """Write ``night`` to ``out`` (format by extension) and its truth beside it."""
    from . import pins  # noqa: PLC0415
    from .traces import open_writer  # noqa: PLC0415

    names = pins.site_names(night.channels)
    w = open_writer(out, night.rate_hz, names, start, n_samples=night.n_samples)
    try:
        for block in night.blocks(60_000):
            w.write(block)
        truth = night.truth()
        for tw in truth["twitches"]:
            w.annotate(tw["t"], 0, f"truth twitch {names[tw['channel']]}")
        for m in truth["movements"]:
            w.annotate(m["t"], m["end"] - m["t"], "truth movement")
    finally:
        w.close()
    truth["start_unix"] = start.timestamp()
    Path(str(out) + ".truth.json").write_text(json.dumps(truth, indent=1))
    return truth


def cmd_simulate(args) -> int:
    from .simulator import PROFILES, Night  # noqa: PLC0415
    from .traces import FORMATS  # noqa: PLC0415

    if Path(args.out).suffix.lower() not in FORMATS:
        raise UsageError(f"twitchmon simulate: --out {args.out}: use one of {', '.join(FORMATS)}")
    if not 1 <= args.channels <= 8:
        raise UsageError("twitchmon simulate: --channels must be 1..8 (the MCP3008 has 8 inputs)")
    if not 100 <= args.rate <= 4000:
        raise UsageError("twitchmon simulate: --rate must be 100..4000 Hz")
    if args.profile not in PROFILES:
        raise UsageError(f"twitchmon simulate: --profile must be one of {', '.join(PROFILES)}")
    night = Night(args.minutes, seed=args.seed, channels=args.channels, rate_hz=args.rate, profile=args.profile)
    truth = write_simulated(night, args.out, _parse_start(args.start))
    print(f"{args.out}: {args.minutes:g} min, {len(truth['twitches'])} twitches, "
          f"{len(truth['movements'])} movements; truth in {args.out}.truth.json")
    return 0


def _say_listen_error(args, exc: OSError) -> None:
    """A port or host the page cannot listen on, as one line: exit 2 for a
    host that is not this machine's, 1 for a busy or forbidden port."""
    import errno  # noqa: PLC0415
    import socket  # noqa: PLC0415

    host = getattr(args, "host", "127.0.0.1")
    where = f"twitchmon {args.cmd}: cannot listen on {host}:{args.port}"
    if isinstance(exc, (socket.gaierror, ValueError)) or exc.errno == errno.EADDRNOTAVAIL:
        raise UsageError(f"{where}: --host {host!r} is not an address of this machine "
                         f"({getattr(exc, 'strerror', None) or exc})") from None
    if exc.errno == errno.EADDRINUSE:
        raise StartError(f"{where}: the port is in use (another twitchmon? try --port)") from None
    raise StartError(f"{where}: {exc.strerror or exc}") from None


def cmd_serve(args) -> int:
    from .config import load_config  # noqa: PLC0415
    from .paths import data_dir  # noqa: PLC0415
    from web import create_app, serve  # noqa: PLC0415

    cfg = load_config(args.config)  # a bad settings file: one line and exit 2 now, not a 500 on the page later
    app = create_app({"DATA_DIR": str(data_dir(args.data_dir)), "HOST": args.host, "CONFIG_FILE": args.config,
                      "ALLOWED_HOSTS": cfg.web_hosts})
    serve(app, args.host, args.port)  # listens before it says "serving": a busy port is one line
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo  # noqa: PLC0415

    return run_demo(port=args.port, nights=args.nights, minutes=args.minutes)


def cmd_run(args) -> int:
    from .daemon import run_daemon  # noqa: PLC0415

    return run_daemon(args)


def cmd_record(args) -> int:
    from .daemon import record  # noqa: PLC0415

    return record(args)


def cmd_passwd(args) -> int:
    import getpass  # noqa: PLC0415

    from werkzeug.security import generate_password_hash  # noqa: PLC0415

    from .store import open_store  # noqa: PLC0415

    d = _passwd_dir(args.data_dir)  # before asking: a dir it cannot write is said first
    if d is None:
        return 1
    if sys.stdin.isatty():
        pw = getpass.getpass("New owner's password: ")
        if getpass.getpass("Again: ") != pw:
            raise UsageError("twitchmon passwd: the two passwords differ")
    else:
        pw = sys.stdin.readline().rstrip("\n")
    if len(pw) < 8:
        raise UsageError("twitchmon passwd: use at least 8 characters")
    store = open_store(d)
    store.set_password_hash(generate_password_hash(pw))  # and every page session logged out
    print(f"password set in {d} (the page reads it from there)")
    return 0


def _passwd_dir(explicit: str | None) -> Path | None:
    """Where ``passwd`` writes, or None after saying in one line why it cannot.

    An installed Pi's service reads /var/lib/twitchmon only: a user who
    cannot write it is told so, instead of getting a password in
    ~/.local/share that the page never sees.  Root becomes the data dir's
    owner first, so the database files stay the service's own."""
    from .paths import SYSTEM_DIR, data_dir  # noqa: PLC0415

    d = data_dir(explicit)
    if not explicit and not os.environ.get("TWITCHMON_DATA") and SYSTEM_DIR.is_dir() and d != SYSTEM_DIR:
        print(f"twitchmon passwd: cannot write {SYSTEM_DIR}, the service's data dir: "
              f"run it as root (sudo twitchmon passwd)", file=sys.stderr)
        return None
    if os.geteuid() == 0 and d.is_dir():
        st = d.stat()
        if st.st_uid != 0:
            os.setgroups([])
            os.setgid(st.st_gid)
            os.setuid(st.st_uid)
    return d


def cmd_beds(args) -> int:
    from .mqtt import MqttError, parse_section  # noqa: PLC0415
    from .mqtt_client import list_beds  # noqa: PLC0415

    host, _, port = args.broker.rpartition(":") if args.broker.count(":") == 1 else (args.broker, "", "")
    sec = {"host": host or args.broker, "topic_prefix": args.topic_prefix, "device_id": "beds"}
    if port:
        try:
            sec["port"] = int(port)
        except ValueError:
            raise UsageError(f"twitchmon beds: --broker {args.broker!r}: the port is not a number") from None
    for key in ("username", "password_file", "tls_ca"):
        if getattr(args, key):
            sec[key] = getattr(args, key)
    try:
        m = parse_section(sec, "twitchmon beds")
    except MqttError as exc:
        raise UsageError(str(exc)) from None
    try:
        beds = list_beds(m, args.wait)
    except MqttError as exc:
        print(f"twitchmon beds: {exc}", file=sys.stderr)
        return 1
    for b in beds:
        s = b["summary"] or {}
        if args.json:
            print(json.dumps(b))
            continue
        last = (f"last night {s.get('date')}: {s.get('total')} twitches "
                + " ".join(f"{k} {v}" for k, v in (s.get("per_site") or {}).items())
                + (f", {s['twitches_per_rest_hour']}/rest h" if s.get("twitches_per_rest_hour") is not None else "")
                if s else "no night published yet")
        print(f"{b['device_id']}  {b['availability'] or '?'}  {last}")
    if not beds and not args.json:
        print(f"no beds under {args.topic_prefix}/ on {m.where}")
    return 0


def cmd_doctor(args) -> int:
    from .doctor import run  # noqa: PLC0415

    return run(args)


COMMANDS = {"replay": cmd_replay, "simulate": cmd_simulate, "serve": cmd_serve, "demo": cmd_demo,
            "run": cmd_run, "record": cmd_record, "passwd": cmd_passwd, "beds": cmd_beds, "doctor": cmd_doctor}


def _sigterm_to_exit(*_):
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main())
