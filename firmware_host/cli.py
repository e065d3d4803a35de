"""The ``twitchmon`` command line (contracts section 1).

Exit status: 0 success; 2 bad usage or unreadable input, with one line on
stderr that says what and where; 1 other failure.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import math
import signal
import socket
import sqlite3
import sys
import threading

from . import __version__, pins
from .adc import ADCError
from .config import ConfigError, decimal_number
from .errors import ListenError, StartError, TraceError, UsageError
from .store import ReadOnlyDataDir, StoreError, describe, unavailable

DISCLAIMER = ("twitchmon is not a medical device and does not diagnose. Persistent or spreading "
              "twitching, weakness or muscle wasting are reasons to see a doctor.")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        raise UsageError(f"{self.prog}: {message}")


def _parse(kind, text):
    """``text`` as ``kind`` (int or float), or the one-line usage error."""
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None


def _positive(kind, most=None, unit=""):
    """A number > 0 (and at most ``most``, in ``unit``), finite."""
    def conv(text):
        v = _parse(kind, text)
        if not (v > 0 and math.isfinite(v)):
            raise argparse.ArgumentTypeError(f"{text!r} must be a number > 0")
        if most is not None and v > most:
            raise argparse.ArgumentTypeError(f"{text!r} must be at most {most:g}{unit}")
        return v
    return conv


def _between(kind, lo, hi, what=""):
    """A number from ``lo`` to ``hi`` (None: no limit) inclusive (``what``: why those bounds)."""
    def conv(text):
        v = _parse(kind, text)
        if not (lo <= v <= hi if hi is not None else lo <= v):  # NaN fails too
            raise argparse.ArgumentTypeError(f"{text!r} must be {lo:g}..{hi:g}{what}" if hi is not None
                                             else f"{text!r} must be {lo:g} or more{what}")
        return v
    return conv


#: what a night can be: at most a day, at 100-4000 samples/s on 1-8 inputs;
#: a simulated one at least the detector's first 30-s step
_MINUTES = _positive(float, 24 * 60, " (a day)")
_SIM_MINUTES = _between(float, 0.5, 24 * 60, " minutes (30 s to a day)")
_RATE_HZ = _between(float, 100, 4000, " Hz")
_CHANNELS = _between(int, 1, pins.ADC_INPUTS, f" (the MCP3008 has {pins.ADC_INPUTS} inputs)")
_SEED = _between(int, 0, None, " (a whole number)")
_SENSITIVITY = _between(decimal_number, 1, 10, " (1 least .. 10 most)")  # float() took "1e0", "nan", "٥"


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
    _page_and_daemon(sub)
    _recordings(sub)
    _owner_and_beds(sub)
    _fill_help(p)
    return p


def _page_and_daemon(sub) -> None:
    """demo, run, serve."""
    d = sub.add_parser("demo", help="zero set-up tour: simulated nights and the web page on 127.0.0.1")
    d.add_argument("--port", type=_port, default=8080)
    d.add_argument("--nights", type=_between(int, 1, 60), default=5, help="simulated nights to fill (default 5)")
    d.add_argument("--minutes", type=_SIM_MINUTES, default=20.0, help="length of each simulated night, minutes (default 20)")

    r = sub.add_parser("run", help="the appliance daemon: sample, detect, record, schedule")
    r.add_argument("--source", default=None, help="adc | sim | FILE (default: adc on a Pi, else sim)")
    r.add_argument("--data-dir")
    r.add_argument("--config")
    r.add_argument("--always", action="store_true", help="count and record from now on, whatever the window")
    r.add_argument("--rate", type=_RATE_HZ, default=None, help="samples per second per channel, Hz (default 1000)")
    r.add_argument("--channels", type=_CHANNELS, default=None, help="sensor channels (default 4)")
    r.add_argument("--seed", type=_SEED, default=0, help="simulator seed for --source sim")

    s = sub.add_parser("serve", help="the web page and JSON API over a data dir")
    s.add_argument("--data-dir")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=_port, default=8080)
    s.add_argument("--config")


def _recordings(sub) -> None:
    """replay, simulate, record."""
    rp = sub.add_parser("replay", help="run the detector over recordings as fast as it can, one process per core")
    rp.add_argument("files", nargs="+", metavar="FILE")
    rp.add_argument("--json", action="store_true", help="print each file's report as one line of JSON")
    rp.add_argument("--save", action="store_true", help="store each result as a night")
    rp.add_argument("--jobs", type=_positive(int), default=None, help="processes (default: every core)")
    rp.add_argument("--data-dir")
    rp.add_argument("--rate", type=_RATE_HZ, default=None, help="samples per second per channel of a CSV without a t column, Hz")
    rp.add_argument("--sensitivity", type=_SENSITIVITY, default=5.0, help="1 (least) .. 10 (most) (default 5)")
    rp.add_argument("--check", action="store_true",
                    help="add known twitches to a copy of the signal and report what was found of them")

    sm = sub.add_parser("simulate", help="write a labelled synthetic night and its truth")
    sm.add_argument("--minutes", type=_SIM_MINUTES, required=True)
    sm.add_argument("--out", required=True)
    sm.add_argument("--seed", type=_SEED, default=0)
    sm.add_argument("--channels", type=_CHANNELS, default=pins.N_CHANNELS)
    sm.add_argument("--rate", type=_RATE_HZ, default=1000.0)
    sm.add_argument("--profile", default="normal", help="normal, hard, quiet, family or a stress profile (firmware_host.simulator.PROFILES)")
    sm.add_argument("--start", default=None, help="ISO-8601 time of the first sample (default 2026-01-01T23:00Z)")

    rc = sub.add_parser("record", help="raw ADC to a file, for building fixtures on a real device")
    rc.add_argument("--minutes", type=_MINUTES, required=True)
    rc.add_argument("--out", required=True)
    rc.add_argument("--source", default="adc")
    rc.add_argument("--rate", type=_RATE_HZ, default=1000.0)
    rc.add_argument("--channels", type=_CHANNELS, default=pins.N_CHANNELS)


def _owner_and_beds(sub) -> None:
    """passwd, beds, report, doctor."""
    pw = sub.add_parser("passwd", help="set the owner's password for the web page; says which data dir it wrote")
    pw.add_argument("--data-dir")

    bd = sub.add_parser("beds", help="list the beds publishing to an MQTT broker, with their last night")
    bd.add_argument("--broker", required=True, metavar="HOST[:PORT]", help="the MQTT broker to listen on")
    bd.add_argument("--topic-prefix", default="twitchmon", help="the beds' topic prefix (default: twitchmon)")
    bd.add_argument("--username", help="the broker's user name, if it asks for one")
    bd.add_argument("--password-file", help="a file holding the broker's password")
    bd.add_argument("--tls-ca", help="CA file: TLS, the broker's certificate checked against it")
    bd.add_argument("--wait", type=_positive(float, 600, " s"), default=2.0,
                    help="seconds to listen after subscribing (default 2)")
    bd.add_argument("--json", action="store_true", help="one JSON object per bed")

    rt = sub.add_parser("report", help="the doctor's report for the nights of a period, as an A4 PDF")
    rt.add_argument("--from", dest="date_from", required=True, metavar="YYYY-MM-DD",
                    help="first evening of the period (inclusive)")
    rt.add_argument("--to", dest="date_to", required=True, metavar="YYYY-MM-DD",
                    help="last evening of the period (inclusive)")
    rt.add_argument("--out", required=True, metavar="FILE.pdf", help="the PDF to write")
    rt.add_argument("--data-dir")

    dr = sub.add_parser("doctor", help="check SPI, GPIO pins, clock, free space and the page: one line each")
    dr.add_argument("--data-dir")
    dr.add_argument("--config")
    dr.add_argument("--host", default="127.0.0.1", help="the page's address (as installed)")
    dr.add_argument("--port", type=_port, default=8080)


#: help for options several commands share, by dest: one wording wherever they appear
SHARED_HELP = {
    "data_dir": "where nights and settings live (default: $TWITCHMON_DATA, else /var/lib/twitchmon "
                "when writable, else ~/.local/share/twitchmon)",
    "config": "settings file, TOML ([night], [detector], [storage], [mqtt]; see systemd/twitchmon.toml)",
    "host": "address the page listens on: 127.0.0.1 this machine only, 0.0.0.0 the home network",
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
    try:
        return importlib.import_module(COMMANDS[args.cmd]).main(args)
    except (TraceError, ConfigError, StoreError) as exc:
        raise UsageError(f"twitchmon {args.cmd}: {exc}") from None
    except (ADCError, ReadOnlyDataDir) as exc:
        print(f"twitchmon {args.cmd}: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        raise
    except OSError as exc:  # the disk or the network at start (full, read-only, a busy port): one line
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


#: each command's module (firmware_host/cmd/), loaded only when it runs
COMMANDS = {name: f"firmware_host.cmd.{name}" for name in
            ("replay", "simulate", "serve", "demo", "run", "record", "passwd", "beds", "doctor",
             "report")}


def _say_listen_error(args, exc: OSError) -> None:
    """A port or host the page cannot listen on, as one line: exit 2 for a
    host that is not this machine's, 1 for a busy or forbidden port."""
    host = getattr(args, "host", "127.0.0.1")
    where = f"twitchmon {args.cmd}: cannot listen on {host}:{args.port}"
    if isinstance(exc, (socket.gaierror, ValueError)) or exc.errno == errno.EADDRNOTAVAIL:
        raise UsageError(f"{where}: --host {host!r} is not an address of this machine "
                         f"({getattr(exc, 'strerror', None) or exc})") from None
    if exc.errno == errno.EADDRINUSE:
        raise StartError(f"{where}: the port is in use (another twitchmon? try --port)") from None
    raise StartError(f"{where}: {exc.strerror or exc}") from None


def _sigterm_to_exit(*_):
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main())
