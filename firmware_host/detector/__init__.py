"""The twitch detector: a function of (block of codes, state) -> (events, state).

A package of stages (see :mod:`.core` for the order and docs/detector.md
for the whole story); what the rest of twitchmon uses is here."""
from .core import Detector, run_detector
from .events import FAULT_KINDS, FAULT_OK, Events, Movement, Twitch
from .params import DetectorConfig

__all__ = ["Detector", "DetectorConfig", "Events", "FAULT_KINDS", "FAULT_OK", "Movement", "Twitch", "run_detector"]
