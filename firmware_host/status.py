"""The status LED and the push button, through gpiozero.

LED patterns: recording = a short blink every 3 s (dim at night), sensor
fault = fast blinking, idle = off.  Button: a short press (``on_mark``)
logs a cramp, or marks the moment, as the setting ``button_press`` says
(the daemon's ``NightRecorder.mark``); a press held for 2 s starts or stops
recording (``on_toggle``).  Pins come from :mod:`firmware_host.pins`.  Tests run this
on gpiozero's MockFactory; on a Pi gpiozero picks the real pin factory.
"""
from __future__ import annotations

from collections.abc import Callable

from gpiozero import LED, Button

from . import board, pins

PATTERNS = {  # (on_time_s, off_time_s) or None for off
    "recording": (0.05, 2.95),
    "fault": (0.1, 0.1),
    "idle": None,
}


class StatusPanel:
    def __init__(self, on_mark: Callable[[], None] = lambda: None,
                 on_toggle: Callable[[], None] = lambda: None, *, pin_factory=None,
                 hold_time_s: float = 2.0):
        self.led = LED(pins.LED_PIN, pin_factory=pin_factory)
        # the board's RC (RPU, CSW in board.py) already smooths contact bounce; bounce_time drops the rest
        self.button = Button(pins.BUTTON_PIN, pull_up=True, hold_time=hold_time_s,
                             bounce_time=board.BUTTON_BOUNCE_S, pin_factory=pin_factory)
        self._held = False
        self._on_mark, self._on_toggle = on_mark, on_toggle
        self.button.when_held = self._held_cb
        self.button.when_released = self._released_cb
        self.state = "idle"

    def _held_cb(self):
        self._held = True
        self._on_toggle()

    def _released_cb(self):
        if not self._held:
            self._on_mark()
        self._held = False

    def show(self, state: str) -> None:
        if state not in PATTERNS:
            raise ValueError(f"unknown LED state {state!r}")
        if state == self.state:
            return
        self.state = state
        pattern = PATTERNS[state]
        if pattern is None:
            self.led.off()
        else:
            self.led.blink(on_time=pattern[0], off_time=pattern[1])

    def close(self) -> None:
        self.led.close()
        self.button.close()
