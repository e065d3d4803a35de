"""hardware/: the schematic, layout, BOM, wiring guide and SPICE netlist are
what ``hardware/build.py`` draws from the part table (firmware_host/board.py)
and the pin table (firmware_host/pins.py); ngspice proves the board from the
same table, and the simulator's front-end model (firmware_host/frontend.py)
agrees with ngspice."""
import csv
import importlib.util
import os
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from twitchmon_testkit import needs

from firmware_host import board, frontend, frontend_digital, pins

HW = Path(__file__).resolve().parent.parent / "hardware"
GENERATED = ["schematic.svg", "layout.svg", "BOM.csv", "WIRING.md", "frontend.cir"]


def _module(name):
    sys.path.insert(0, str(HW))
    spec = importlib.util.spec_from_file_location(f"hw_{name}", HW / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _svg_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [" ".join(s.strip() for s in t.itertext() if s.strip()) for t in root.iter() if t.tag.endswith("text")]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    needs.module("schemdraw")  # the test extra installs it
    out = tmp_path_factory.mktemp("hw")
    _module("build").build(out)
    return out


@pytest.fixture(scope="module")
def spice():
    if shutil.which("ngspice") is None:
        if os.environ.get("CI"):
            pytest.fail("ngspice is missing: .ci/run installs Debian's ngspice")
        pytest.skip("ngspice is not installed")
    return _module("spice")


# ---------------------------------------------------------------- drift ----
@pytest.mark.parametrize("name", GENERATED)
def test_committed_files_are_what_the_script_draws(built, name):
    assert (built / name).read_text(encoding="utf-8") == (HW / name).read_text(encoding="utf-8"), \
        f"hardware/{name} is stale: run python hardware/build.py"


def test_a_changed_value_changes_every_drawing(built, tmp_path, monkeypatch):
    """The drift test above would catch a table edit: the drawings really follow the table."""
    import dataclasses
    parts = tuple(dataclasses.replace(p, text="3.0 M", value=3.0e6) if p.role == "RP" else p
                  for p in board.CHANNEL_PARTS)
    monkeypatch.setattr(board, "CHANNEL_PARTS", parts)
    monkeypatch.setattr(board, "PARTS", parts + board.SHARED_PARTS)
    _module("build").build(tmp_path)
    for name in ("schematic.svg", "BOM.csv", "WIRING.md", "frontend.cir"):
        assert (tmp_path / name).read_text() != (built / name).read_text(), name
    assert "RRP0 TIP0 IN0 3e+06" in (tmp_path / "frontend.cir").read_text()


# ------------------------------------------------------------ schematic ----
def test_schematic_has_every_mcp3008_pin_and_the_pi_pins_the_code_uses():
    texts = _svg_texts((HW / "schematic.svg").read_text(encoding="utf-8"))
    for number, name in pins.MCP3008_PINS.items():
        assert name in texts, name
        assert str(number) in texts, number
    joined = " ".join(texts)
    for mcp_pin, pi_pin in pins.MCP3008_TO_PI.items():
        bcm = pins.PI_HEADER[pi_pin][0]
        assert f"J1 pin {pi_pin} ({bcm})" in joined
    for p in range(1, 41):  # the whole header, used pins by name
        assert str(p) in texts
    assert f"({pins.LED_PIN})" in joined and f"({pins.BUTTON_PIN})" in joined


def test_schematic_draws_every_part_the_opamp_pins_the_jack_and_the_shield():
    joined = " ".join(_svg_texts((HW / "schematic.svg").read_text(encoding="utf-8")))
    for p in board.PARTS:
        for ref in p.refs:
            assert re.search(rf"\b{ref}\b", joined), f"{ref} is in the table but not on the schematic"
        if p.value is not None:
            assert p.text in joined, p.text
    for n, (sec, plus, minus, out) in board.OPAMP_SECTIONS.items():
        assert f"{sec} (+{plus} -{minus} out {out})" in joined
    assert "VDD" in joined and "VSS" in joined and "11" in joined
    assert "shielded pair" in joined and "black + shield = brass" in joined
    assert "silver face" in joined and "brass face" in joined
    for tag in ("T", "R", "S"):
        assert tag in _svg_texts((HW / "schematic.svg").read_text(encoding="utf-8"))


def test_schematic_text_stays_inside_the_drawing():
    """No label cut off at the edge: every text anchor sits inside the viewBox with room for its width."""
    svg = (HW / "schematic.svg").read_text(encoding="utf-8")
    root = ET.fromstring(svg)
    x0, y0, w, h = (float(v) for v in root.get("viewBox").split())
    for t in root.iter():
        if not t.tag.endswith("text"):
            continue
        text = "".join(t.itertext())
        x, y = float(t.get("x", 0)), float(t.get("y", 0))
        size = float(re.search(r"font-size:\s*([\d.]+)", t.get("style", "font-size:14")).group(1)) \
            if "font-size" in (t.get("style") or "") else float(t.get("font-size", 14))
        width = 0.6 * size * len(text)
        anchor = (t.get("text-anchor") or re.search(r"text-anchor:\s*(\w+)", t.get("style") or "") and
                  re.search(r"text-anchor:\s*(\w+)", t.get("style")).group(1) or "start")
        left = {"start": x, "middle": x - width / 2, "end": x - width}[anchor]
        assert x0 <= left and left + width <= x0 + w, f"{text!r} runs off the drawing"
        assert y0 <= y <= y0 + h, f"{text!r} is above or below the drawing"


# ------------------------------------------------------------------ BOM ----
def test_bom_lists_every_part_through_hole_and_everything_to_build_and_wear_it():
    rows = list(csv.DictReader((HW / "BOM.csv").open(encoding="utf-8")))
    assert [*rows[0]] == ["reference", "part", "value", "quantity", "example part number"]
    listed = " ".join(r["reference"] for r in rows)
    for ref in board.all_refs():
        m = re.match(r"([A-Z]+)(\d+)", ref)
        ranges = re.findall(rf"\b{m.group(1)}(\d+)-{m.group(1)}(\d+)", listed)
        assert re.search(rf"\b{ref}\b", listed) or any(int(a) <= int(m.group(2)) <= int(b) for a, b in ranges), ref
    text = " ".join(" ".join(r.values()) for r in rows).lower()
    for smd in ("sot-23", "sot23", "0805", "0603", "soic", "smd"):
        assert smd not in text
    for needed in ("plug", "cable", "polyimide", "heat-shrink", "strap", "stripboard", "socket dip-16",
                   "socket dip-14", "enclosure", "power bank", "60601"):
        assert needed in text, needed
    assert all(float(r["quantity"]) > 0 and r["example part number"] for r in rows)
    assert sum(r["value"] == "MCP3008" for r in rows) == 1
    assert not [r for r in rows if r["value"] == "10 M"]  # the 10 M MFR-25 is not orderable


def test_every_channel_part_value_is_within_its_bound_and_the_check_catches_one_that_is_not():
    assert board.bound_violations() == []
    assert all(p.bound is not None for p in board.CHANNEL_PARTS if p.value is not None)
    bad = board.bound_violations({"CF": 3.3e-9})
    assert len(bad) == 1 and bad[0].startswith("CF")


# --------------------------------------------------------------- guide ----
def test_wiring_guide_lists_every_wire_site_and_says_what_is_safe_and_the_supply():
    text = (HW / "WIRING.md").read_text(encoding="utf-8")
    for row in pins.wiring_rows():
        assert f"| {row['from']} | {row['to']} | {row['signal']} |" in text
    for s in pins.SITES:
        assert s.placement in text and s.name in text
    assert "not a medical device" in text
    assert "## What it is, and what it is not safe for" in text and "Not safe for" in text
    assert "## Power" in text and "power bank" in text and "IEC 60601-1" in text and "2 MOPP" in text
    assert "brass face toward the skin" in text


# -------------------------------------------------------------- layout ----
def test_layout_places_every_board_part_with_its_table_nets_one_pad_per_hole():
    layout = _module("layout")
    pads = layout.pads()
    on_board = {r for p in board.PARTS if p.kind != "PZ" for r in p.refs}
    assert on_board == set(pads)
    holes = [xy for pp in pads.values() for xy, _ in pp.values()]
    assert len(holes) == len(set(holes)), "two pads share a hole"
    assert all(0 <= x < layout.COLS and 0 <= y < layout.ROWS for x, y in holes)
    for p in board.CHANNEL_PARTS:
        if p.kind in ("R", "C", "D"):
            for n in range(len(pins.SITES)):
                assert [net for _, net in pads[p.refs[n]].values()] == list(p.nets(n))
    # every net's pads end up joined: the wires form one tree per net
    by_net = {}
    for pp in pads.values():
        for xy, net in pp.values():
            if net != "NC":
                by_net.setdefault(net, set()).add(xy)
    wires = layout.wires()
    for net, holes_of_net in by_net.items():
        segs = [(a, b) for n, a, b in wires if n == net]
        assert len(segs) == len(holes_of_net) - 1
        joined = {next(iter(holes_of_net))}
        for _ in segs:
            for a, b in segs:
                if (a in joined) != (b in joined):
                    joined |= {a, b}
        assert joined == holes_of_net, net


# ------------------------------------------------------------- ngspice ----
def test_ngspice_ac_of_every_channel_matches_the_python_model(spice):
    """Same table, two computations: within 0.15 dB and 0.5 degrees from 0.1 Hz to 2 kHz."""
    for ch in range(len(pins.SITES)):
        r = spice.ac(ch, None, 0.1, 2000.0, 20)
        f = np.array(r["freq_hz"])
        sim, model = np.array(r["gain"][ch]), frontend.analog_response(f)
        assert np.abs(20 * np.log10(np.abs(sim) / np.abs(model))).max() < 0.15
        assert np.abs(np.degrees(np.angle(sim / model))).max() < 0.5
        others = [np.abs(np.array(r["gain"][k])).max() for k in range(len(pins.SITES)) if k != ch]
        assert max(others) < 1e-4  # AC crosstalk below -80 dB


def test_ngspice_pass_band_gain_and_anti_alias_at_nominal_and_at_both_bound_corners(spice):
    nominal = spice.band_figures()
    assert 1.0 < nominal["low_edge_hz"] < 3.0 and 40.0 < nominal["high_edge_hz"] < 60.0
    assert nominal["att_500_db"] >= 45.0 and nominal["att_1000_db"] >= 60.0
    assert abs(nominal["peak_gain"] - frontend.passband_gain()) < 0.05
    assert spice.acceptance_failures() == []
    for name, values in spice.bound_corners().items():
        assert board.bound_violations(values) == []
        assert spice.acceptance_failures(values) == [], f"parts at the {name} end of their bounds"


@pytest.mark.parametrize("values, complaint", [
    ({"CF": 220e-9}, "high edge"),
    ({"RA2": 1e3}, "500 Hz"),  # the ladder before the gain came down: at gain 3 it is 1 dB short
    ({"CA1": 0.22e-6, "CA2": 0.22e-6}, "500 Hz"),
    ({"CG": 1e-6}, "low edge"),
    ({"RB": 1e6}, "gain"),
    ({"RF": 160e3, "CF": 12e-9}, "gain"),  # the first v2 board's stage (gain 17): the heartbeat clips
    ({"RF": 5.1e3}, "gain"),  # gain 1.5: one ADC step too coarse for the quietest sensor
])
def test_ngspice_check_fails_a_value_outside_its_bound(spice, values, complaint):
    assert board.bound_violations(values)
    failures = spice.acceptance_failures(values)
    assert failures and any(complaint in f for f in failures)


def test_ngspice_knock_stays_on_its_channel(spice):
    k = spice.knock(0, 100.0)
    assert k["clamp_current_a"] < 100e-6  # 100 V through RP: ~30 uA, far inside the 1N4148 and the op-amp
    assert k["ch0_max_lsb"] > 100  # the knock itself does show
    assert k["crosstalk_max_lsb"] < 1.0


def test_ngspice_noise_is_far_below_one_lsb(spice):
    nz = spice.noise(0)
    assert nz["adc_pin_lsb_rms"] < 0.1
    assert nz["disc_vrms"] < 0.1 * spice.LSB_V / frontend.passband_gain()


def test_ngspice_patient_currents(spice):
    i = spice.patient_currents()
    assert i["supply_fault"] < board.PATIENT_LIMIT_A
    assert abs(i["supply_fault"] - board.patient_current_calc()) < 0.02 * i["supply_fault"]
    assert i["bare_disc_dc"] < board.PATIENT_LIMIT_DC_A
    assert i["supply_fault_outer_layer_cut"] < board.PATIENT_LIMIT_A  # even with a second fault
    assert i["bare_disc_input_at_3v3_dc"] < board.PATIENT_LIMIT_DC_A
    assert i["supply_fault_bare_silver"] > 1e-3  # what the guide's supply rule is for


# ------------------------------------------------------ front-end model ----
def test_frontend_rests_at_mid_scale_and_clips_at_the_rails():
    rate = 1000.0
    assert set(np.unique(frontend_digital.to_codes(np.zeros(2000), rate))) <= {511, 512}
    t = np.arange(4000) / rate
    big = frontend_digital.to_codes(2.0 * np.sin(2 * np.pi * 10 * t), rate)
    # the op-amp output stops 25 mV above ground (code 10); the ADC saturates at VREF (1023)
    floor_code = int(board.OPAMP_SWING_V / pins.VREF_V * 1024)
    assert big.min() == floor_code == 10 and big.max() == 1023 and big.dtype == np.uint16


def test_frontend_gain_in_codes_per_mv_at_the_disc():
    rate, f = 1000.0, 10.0
    t = np.arange(int(4 * rate)) / rate
    codes = frontend_digital.to_codes(1e-3 * np.sin(2 * np.pi * f * t), rate).astype(float)
    settled = codes[int(2 * rate):] - 512
    amp = (settled.max() - settled.min()) / 2
    expect = frontend.codes_per_mv() * abs(frontend.analog_response(f)) / frontend.passband_gain()
    assert abs(amp - expect) <= 1.0  # within the quantisation
    lo, hi = frontend.gain_bounds()  # codes per first-board code, whose code is 3.3 V / 1024
    assert lo * 1024 / 3300 <= frontend.codes_per_mv() <= hi * 1024 / 3300


def _largest_rest_signal_v(rate, beat_hz, sigma_s, twitch):
    """The headroom rule's largest resting signal at the disc, volts: a
    heartbeat burst shaped as the simulator draws it (a sine under a Gaussian
    envelope) of LARGEST_BEAT_V1_CODES, and a twitch of LARGEST_TWITCH_V1_CODES
    whose peak lands on the beat's crest, same sign."""
    v1 = frontend.V1_REF_V / 1024  # volts at the disc per first-board code
    t = np.arange(int(3 * rate)) / rate
    tau = t - 1.5
    beat = np.exp(-0.5 * (tau / sigma_s) ** 2) * np.cos(2 * np.pi * beat_hz * tau)
    x = frontend.LARGEST_BEAT_V1_CODES * beat
    k = int(np.argmax(np.abs(twitch)))
    s = int(1.5 * rate) - k
    x[s:s + len(twitch)] += frontend.LARGEST_TWITCH_V1_CODES * twitch * np.sign(twitch[k])
    return x * v1


def test_the_largest_resting_signal_stays_inside_the_adc_swing_with_margin():
    """A 130-code heartbeat with an 80-code twitch on its crest (first-board
    codes, ~680 mV at the disc) through the board: never at a rail, and its
    peak inside (1 - HEADROOM_MARGIN) of the swing about mid-scale.  At the
    first v2 board's gain 17 (12.6 codes per code) it clips by 3x."""
    from firmware_host.simulator.parts import twitch_wave
    rate = 1000.0
    swing = frontend.swing_codes()
    assert 495 < swing < 505  # the op-amp's floor, 25 mV, is the nearer limit
    assert frontend.largest_rest_codes() <= (1 - frontend.HEADROOM_MARGIN) * swing
    rng = np.random.default_rng(7)
    worst = 0.0
    for beat_hz in (6.0, 9.0, 12.0):  # the family's range of beat frequencies
        for sigma_s in (0.025, 0.06):
            for _ in range(3):
                x = _largest_rest_signal_v(rate, beat_hz, sigma_s, twitch_wave(rng, rate))
                codes = frontend_digital.to_codes(x, rate).astype(float)
                assert codes.min() > int(board.OPAMP_SWING_V / pins.VREF_V * 1024) and codes.max() < 1023
                worst = max(worst, np.abs(codes - 512).max())
    assert 0.6 * swing < worst <= (1 - frontend.HEADROOM_MARGIN) * swing, (worst, swing)


def test_one_adc_step_stays_well_below_the_quietest_sensor_noise():
    """The quantisation noise (1 LSB / sqrt 12, in first-board codes) at most a
    third of the quiet sensor noise the rule is sized for (0.45 codes rms), so it
    adds under 6 % to it; measured on the board's own quantiser (a 10 Hz tone
    against the same tone unquantised).  Fails if the gain drops below 1.92."""
    q_rms = frontend.quantisation_v1_codes() / np.sqrt(12)
    assert q_rms <= frontend.QUANT_NOISE_SHARE * frontend.SMALLEST_NOISE_V1_CODES
    from scipy import signal as sps
    rate = 1000.0
    t = np.arange(20_000) / rate
    x = 30 * frontend.V1_REF_V / 1024 * np.sin(2 * np.pi * 10.0 * t)  # 30 first-board codes
    analog = sps.sosfilt(frontend_digital.sos(rate), x) * 1024 / pins.VREF_V  # ADC codes, unquantised
    codes = frontend_digital.to_codes(x, rate).astype(float) - 512
    measured = np.std(codes[2000:] - analog[2000:]) / frontend.detector_gain()  # first-board codes rms
    assert abs(measured - q_rms) < 0.15 * q_rms, (measured, q_rms)
    assert measured <= frontend.QUANT_NOISE_SHARE * frontend.SMALLEST_NOISE_V1_CODES
    assert np.sqrt(1 + (measured / frontend.SMALLEST_NOISE_V1_CODES) ** 2) < 1.06


def test_frontend_digital_response_matches_the_analog_one_in_the_band():
    from scipy import signal as sps
    for rate, tol_db in ((250.0, 0.5), (500.0, 0.15), (1000.0, 0.05)):
        f = np.array([1.0, 3.0, 20.0, 40.0, 10.0])
        _, h = sps.sosfreqz(frontend_digital.sos(rate), worN=f, fs=rate)
        err = np.abs(20 * np.log10(np.abs(h) / np.abs(frontend.analog_response(f))))
        assert err.max() < tol_db, (rate, err)  # the twitch band; nearer Nyquist the bilinear warp adds attenuation
        assert err[-1] < 1e-6  # exact at the prewarp frequency


def test_frontend_streams_like_one_call_and_handles_channels():
    rate = 500.0
    rng = np.random.default_rng(1)
    x = rng.normal(0, 0.02, (3000, 4))
    whole = frontend_digital.to_codes(x, rate)
    zi = frontend_digital.initial_state(rate, 4)
    parts = []
    for a in range(0, 3000, 700):
        c, zi = frontend_digital.to_codes(x[a:a + 700], rate, zi)
        parts.append(c)
    assert np.array_equal(np.vstack(parts), whole)
    assert np.array_equal(frontend_digital.to_codes(x[:, 2], rate), whole[:, 2])
    with pytest.raises(ValueError):
        frontend_digital.sos(50.0)


def test_frontend_module_imports_without_scipy_at_the_top():
    src = Path(frontend.__file__).read_text()
    assert not re.search(r"^(from scipy|import scipy)", src, re.M)


def test_readme_quotes_the_ngspice_figures(spice):
    readme = (HW.parent / "README.md").read_text(encoding="utf-8")
    b = spice.band_figures()
    k = spice.knock(0, 100.0)
    i = spice.patient_currents()
    nz = spice.noise(0)
    for figure in (f"{nz['adc_pin_lsb_rms']:.4f} LSB rms at the ADC ({nz['disc_vrms'] * 1e6:.0f} uV rms",f"{b['low_edge_hz']:.2f}-{b['high_edge_hz']:.1f} Hz, {b['peak_gain']:.2f} V/V",
                   f"{b['att_500_db']:.1f} dB / {b['att_1000_db']:.1f} dB",
                   f"{k['clamp_current_a'] * 1e6:.0f} uA clamp current",
                   f"{i['supply_fault'] * 1e6:.1f} uA (limit 100 uA)",
                   f"{i['bare_disc_dc'] * 1e6:.2f} uA (limit 10 uA)",
                   f"{frontend.codes_per_mv():.1f} codes per mV"):
        assert figure in readme, figure
