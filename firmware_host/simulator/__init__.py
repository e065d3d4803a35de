"""A labelled night on leg piezos, generated (contracts section 4).

The night is planned up front as small lists (beats, twitches, movements,
glitches, sensor faults) and rendered on demand for any sample range, so a
night of any length streams in constant memory and the same range always
renders to the same codes whatever the block size.

What goes in, per channel, in 10-bit codes around mid-rail:

- drift (minutes) and breathing (0.15-0.5 Hz);
- mains hum at 50 or 60 Hz with 2nd and 3rd harmonics;
- white noise of the amplifier and ADC;
- the heartbeat: a 6-12 Hz burst each beat on every channel, with a gain,
  delay and burst frequency of its own per channel, a beat-to-beat amplitude
  shared by all channels, and heart-rate variability;
- twitches: real leg-twitch time courses (``data/twitch_shapes.npz``, from
  E. J. Mastnak's spm-potentiation dataset, CC-BY 4.0) stretched in time,
  passed through the piezo's first-order high-pass (corner 2-15 Hz), scaled
  to a few to tens of codes, on one channel with weaker crosstalk on the
  other sensor of the same leg; some are doublets 10-110 ms apart (the
  family's nights: independent bursty streams per site, whose motor units
  may twitch while the last twitch on the site is still visible);
- leg movements (0.5-10 s, one leg) and body movements (2-8 s, every
  channel, may clip at 0/1023);
- single-sample SPI glitches (a lone 0 or 1023);
- sensor faults: a channel unplugged (flat), railed, or picking up only hum.

The truth (:meth:`Night.truth`) lists the twitches that count: every planned
twitch is at rest, at least 1 s before and 6 s after any movement and clear
of fault edges on its channel, so the labels are not ambiguous.

Rooms: :mod:`.parts` (profiles, twitch shapes, planned events),
:mod:`.plan` (planning), :mod:`.night` (rendering and the truth).
"""
from __future__ import annotations

from .night import Night
from .parts import CLASSIC, FAMILY, PROFILES, STRESS, Fault, Movement, Twitch, twitch_shapes, twitch_wave

__all__ = ["CLASSIC", "FAMILY", "PROFILES", "STRESS", "Fault", "Movement", "Night", "Twitch", "twitch_shapes",
           "twitch_wave"]
