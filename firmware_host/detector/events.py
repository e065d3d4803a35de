"""What the detector reports: twitches, movements and sensor faults."""
from __future__ import annotations

from dataclasses import dataclass, field

FAULT_OK = "ok"
FAULT_KINDS = ("ok", "unplugged", "railed", "hum")  #: a channel's states; index = code in the fault stage


@dataclass
class Twitch:
    t: float  #: onset, s from the first sample
    channel: int
    duration_ms: float
    peak: float  #: codes of the band-passed, heartbeat-free signal (3-35 Hz)
    snr: float  #: peak 40 ms mean |x| over the channel's noise floor
    rhythmic: bool = False  #: in step with the heart (see rules.mark_rhythmic)
    at_beat: bool = False  #: onset inside the burst window of a subtracted beat
    beat_like: float = 0.0  #: likeness to the channel's whole beat, 0..1 (regions.beat_likeness)
    beat_slot: bool = True  #: a beat the tracker missed could lie here (regions.beat_slot)
    context: bool = False  #: not at rest throughout: never counted, only context for the rules (its tail)
    #: every channel's residual (codes) from 40 ms + ``snip_lag`` before it to as much after it, while it is
    #: decided (rules.explained); None at a span's edge
    snip: object = field(default=None, repr=False, compare=False)
    snip_lag: int = 0  #: working samples of lag the echo test may shift by

    def as_dict(self) -> dict:
        return {"t": round(self.t, 4), "channel": self.channel, "duration_ms": round(self.duration_ms, 1),
                "peak": round(self.peak, 2), "snr": round(self.snr, 2)}


@dataclass
class Movement:
    t: float  #: start, s
    end: float  #: end, s
    channels: list[int]

    def as_dict(self) -> dict:
        return {"t": round(self.t, 3), "end": round(self.end, 3), "channels": self.channels}


@dataclass
class Events:
    twitches: list[Twitch] = field(default_factory=list)
    movements: list[Movement] = field(default_factory=list)
    faults: list[dict] = field(default_factory=list)  #: {"channel", "t", "status"} on changes

    def extend(self, other: "Events") -> None:
        self.twitches += other.twitches
        self.movements += other.movements
        self.faults += other.faults
