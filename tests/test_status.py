"""Status LED and button on gpiozero's MockFactory."""
import time

import pytest
from gpiozero.pins.mock import MockFactory

from firmware_host import pins
from firmware_host.status import StatusPanel


@pytest.fixture
def factory():
    f = MockFactory()
    yield f
    f.reset()


def test_led_patterns(factory):
    marks = []
    panel = StatusPanel(on_mark=lambda: marks.append(1), pin_factory=factory)
    led = factory.pin(int(pins.LED_PIN[4:]))
    panel.show("fault")
    time.sleep(0.35)
    states = [s.state for s in led.states]
    assert states.count(True) >= 2  # blinking
    panel.show("idle")
    time.sleep(0.05)
    assert led.state is False
    with pytest.raises(ValueError):
        panel.show("disco")
    panel.close()


def test_press_marks_and_hold_toggles(factory):
    marks, toggles = [], []
    panel = StatusPanel(on_mark=lambda: marks.append(1), on_toggle=lambda: toggles.append(1),
                        pin_factory=factory, hold_time_s=0.1)
    btn = factory.pin(int(pins.BUTTON_PIN[4:]))
    btn.drive_low(); time.sleep(0.02); btn.drive_high(); time.sleep(0.05)
    assert marks == [1] and toggles == []
    btn.drive_low(); time.sleep(0.3); btn.drive_high(); time.sleep(0.05)
    assert marks == [1] and toggles == [1]
    panel.close()


def test_button_has_a_bounce_time_on_top_of_the_hardware_debounce(factory):
    from firmware_host import board
    panel = StatusPanel(pin_factory=factory)
    assert panel.button.pin.bounce == board.BUTTON_BOUNCE_S > 0
    # the board's RC rises in RPU x CSW; gpiozero's window is longer than that
    assert board.BUTTON_BOUNCE_S > board.value("RPU") * board.value("CSW")
    panel.close()
