"""The sampler's timing with and without MQTT, and with a broker that stops answering.

    python benchmarks/bench_mqtt.py [SECONDS [ROUNDS]]      (default 60 s, 1 round)

Runs `twitchmon run --source emulator --always` (the real driver over the
bit-level MCP3008 emulator, 4 x 1 kHz, sampler in its own process) for
SECONDS three times: with no [mqtt] section; publishing to a real Mosquitto
on 127.0.0.1; and publishing to one that is frozen (SIGSTOP: it keeps its
port and stops answering) 5 s in.  Prints the sampler's late fraction,
worst lateness, missed periods and dropped blocks for each, and what the
publisher said.  With ROUNDS > 1 the three runs repeat in turn, so the
machine's drift (other load) falls on all three alike.
"""
from __future__ import annotations

import ast
import sys
import tempfile
import time
from pathlib import Path

from twitchmon_testkit import loadlib, mqttlib


def run(seconds: float, mode: str) -> None:
    d = Path(tempfile.mkdtemp(prefix="twitchmon-mqtt-"))
    broker = cfg = None
    if mode != "no broker":
        broker = mqttlib.Broker(d / "broker").start()
        cfg = mqttlib.write_config(d / "bed.toml", broker.port, "bench")
    p = mqttlib.start_daemon(d / "data", cfg, source="emulator")
    loadlib.wait_recording(p, d / "data")
    if mode == "broker stops answering":
        time.sleep(5.0)
        broker.pause()
        time.sleep(max(0.0, seconds - 5.0))
    else:
        time.sleep(seconds)
    out, err = mqttlib.stop_daemon(p)
    line = next(ln for ln in out.splitlines() if ln.startswith("twitchmon: sampler "))
    st = ast.literal_eval(line[len("twitchmon: sampler "):])
    said = [ln for ln in err.splitlines() if "MQTT" in ln]
    if broker:
        broker.resume()
        broker.stop()
    print(f"{mode:23s}: sampler late (> 0.5 ms) fraction {st['late_fraction']:.5f}, worst lateness "
          f"{st['worst_late_ms']:.2f} ms, missed periods {st['missed']} of {st['frames']}, "
          f"dropped blocks {st['dropped_blocks']}", flush=True)
    for line in said:
        print(f"{'':25s}publisher: {line}", flush=True)


if __name__ == "__main__":
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    for _ in range(rounds):
        for mode in ("no broker", "broker answering", "broker stops answering"):
            run(secs, mode)
