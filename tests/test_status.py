"""Status LED and button on gpiozero's MockFactory."""
import threading
import time

import pytest
from gpiozero.pins.mock import MockFactory

from firmware_host import pins
from firmware_host.status import PATTERNS, StatusPanel


@pytest.fixture
def factory():
    f = MockFactory()
    yield f
    f.reset()


def _until(cond, timeout_s=10.0):
    """Wait for a condition the LED's blink thread makes true: no fixed sleep
    stands in for it, and a slow machine only waits longer."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "the condition never came"
        time.sleep(0.005)


def test_led_patterns(factory):
    panel = StatusPanel(pin_factory=factory)
    led = factory.pin(int(pins.LED_PIN[4:]))
    assert led.state is False  # idle at start
    panel.show("fault")
    _until(lambda: [s.state for s in led.states].count(True) >= 2)  # blinking: on, off, on again
    panel.show("idle")
    assert led.state is False  # off() stops the blink thread before it returns
    n = len(led.states)
    panel.show("idle")
    assert len(led.states) == n
    with pytest.raises(ValueError):
        panel.show("disco")
    assert PATTERNS["fault"] == (0.1, 0.1) and PATTERNS["recording"][0] < PATTERNS["recording"][1]
    panel.close()


def test_press_marks_and_hold_toggles(factory):
    marks, toggles = [], []
    toggled = threading.Event()
    panel = StatusPanel(on_mark=lambda: marks.append(1), on_toggle=lambda: (toggles.append(1), toggled.set()),
                        pin_factory=factory, hold_time_s=0.1)
    btn = factory.pin(int(pins.BUTTON_PIN[4:]))
    btn.drive_low()
    btn.drive_high()  # the release runs the callbacks in this thread
    assert marks == [1] and toggles == []
    btn.drive_low()
    assert toggled.wait(10)  # held past hold_time_s: the hold thread toggles while the button is still down
    btn.drive_high()
    assert marks == [1] and toggles == [1]  # the release that ends a hold is not a mark
    panel.close()


def test_button_has_a_bounce_time_on_top_of_the_hardware_debounce(factory):
    from firmware_host import board
    panel = StatusPanel(pin_factory=factory)
    assert panel.button.pin.bounce == board.BUTTON_BOUNCE_S > 0
    # the board's RC rises in RPU x CSW; gpiozero's window is longer than that
    assert board.BUTTON_BOUNCE_S > board.value("RPU") * board.value("CSW")
    panel.close()
