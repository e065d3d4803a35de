"""``twitchmon beds``: the beds publishing to an MQTT broker, with their last night."""
from __future__ import annotations

import json
import sys

from ..errors import UsageError
from ..events import how_many
from ..mqtt import MqttError, parse_section
from ..mqtt_client import list_beds


def main(args) -> int:

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
    for key in ("password_file", "tls_ca"):  # files named on the command line: unreadable is bad input (exit 2)
        path = getattr(args, key)
        if path:
            try:
                with open(path, "rb"):
                    pass
            except OSError as exc:
                raise UsageError(f"twitchmon beds: --{key.replace('_', '-')} {path}: {exc.strerror}") from None
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
        last = (f"last night {s.get('date')}: {how_many(s.get('total'), 'twitch', 'twitches')} "
                + " ".join(f"{k} {v}" for k, v in (s.get("per_site") or {}).items())
                + (f", {s['twitches_per_rest_hour']}/rest h" if s.get("twitches_per_rest_hour") is not None else "")
                if s else "no night published yet")
        print(f"{b['device_id']}  {b['availability'] or '?'}  {last}")
    if not beds and not args.json:
        print(f"no beds under {args.topic_prefix}/ on {m.where}")
    return 0
