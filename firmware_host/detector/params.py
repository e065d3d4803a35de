"""The detector's parameters, with their units, and the rates it works at."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..frontend import detector_slow_share


@dataclass
class DetectorConfig:
    rate_hz: float = 1000.0  #: sampling rate of the codes, Hz
    channels: int = 4
    sensitivity: float = 5.0  #: 1 (only clear twitches) .. 10 (smallest twitches)
    chunk_s: float = 30.0  #: analysis step, s; latency is about 3 chunks
    warmup_s: float = 0.5  #: s at the start that are not rest: the first beat's window is not whole
    settle_s: float = 5.0  #: s after a movement ends that are not rest
    pre_movement_s: float = 0.5  #: s before a movement that are not rest
    merge_ms: float = 120.0  #: regions closer than this are one twitch (doublets), ms
    crosstalk_ms: float = 80.0  #: candidates this close are judged together, ms
    min_twitch_ms: float = 30.0
    max_twitch_ms: float = 1000.0
    legs: tuple[str, ...] | None = None  #: each channel's leg ("L"/"R"); None: from the pin table
    #: codes per code of the first board (unity gain into a 3.3 V-referenced
    #: ADC): how much larger the sensor board makes what a disc feels, in
    #: codes.  Thresholds on what the body does (a leg's slow swing, mains
    #: picked up) scale with it; those on noise are multiples of the noise
    #: floor each channel learns.  The v2 board's: ``frontend.detector_gain()``.
    gain: float = 1.0
    #: how much of a train of twitches' slow swing (about 2 Hz) the sensor
    #: board passes, relative to the twitch band (about 10 Hz): 1 for the
    #: first board (the disc straight into the ADC); the v2 board's ~1 Hz
    #: high-pass passes less (``frontend.detector_slow_share()``, 0.76).  The
    #: test that tells a train of twitches from a leg's movement by its slow
    #: swing scales by it.  None: from the gain (the board with gain is the
    #: v2 board).
    slow_share: float | None = None

    def board_slow_share(self) -> float:
        """``slow_share``, or the board's as its gain says."""
        if self.slow_share is not None:
            return float(self.slow_share)
        return 1.0 if self.gain == 1.0 else detector_slow_share()

    def threshold_factor(self) -> float:
        """Multiple of the noise floor the 40 ms mean |x| of a clear twitch must pass."""
        s = min(max(float(self.sensitivity), 1.0), 10.0)
        return THRESHOLD_X_NOISE * 1.15 ** (5.0 - s)

    def faint_factor(self) -> float:
        """Multiple of the noise floor a faint twitch must pass (``FAINT_X_NOISE``, scaled alike)."""
        return self.threshold_factor() * FAINT_X_NOISE / THRESHOLD_X_NOISE


#: the 40 ms mean |residual| must pass this many noise floors (at sensitivity 5)
THRESHOLD_X_NOISE = 9.0
#: a candidate under that but over this many floors is faint: far above the
#: noise (the 40 ms mean |x| of noise is about 0.8 floors, give or take
#: 0.3), but where what a beat, a twitch's relaxation or a glitch leaves
#: behind also lies.  It counts only if it looks like neither: not shaped
#: like its channel's beat (FAINT_BEAT_LIKE or less) and lasting as a
#: twitch does (FAINT_MIN_MS or more), and no other sensor shows its
#: waveform bigger (its echo, the source ruled out or on a sensor that is
#: out).  On the tuning nights: 73 more twitches found for 8 more false
#: alarms on the first board, 22 for 14 on the v2 board (at 7.5 floors
#: more of both, fewer net)
FAINT_X_NOISE = 8.0
FAINT_BEAT_LIKE, FAINT_MIN_MS = 0.9, 60.0
#: a region spans where the activity stays above this share of the threshold
REGION_SHARE = 0.4
#: beat tracking starts when the pulse envelope's autocorrelation at the beat
#: period stands this high above its trough (0..1), and stops below the second
CONF_ON, CONF_OFF = 0.3, 0.15
#: the night's heart rate is said only if tracked in this many chunks, and this share of those analysed
HR_MIN_CHUNKS, HR_MIN_SHARE = 3, 0.1
#: confident chunks' periods this close (share) to 2:1 make the night's heart rate unknown
HR_HARMONIC_TOL = 0.15
#: ... and is said only if HR_MIN_CHUNKS of those chunks agree with its median within this share (a
#: heartbeat under the noise, confident by chance in three chunks of twenty, read 121-134 bpm for 119.6)
HR_AGREE = 0.025
#: a candidate this much smaller than a simultaneous one elsewhere is its
#: echo (crosstalk): up to half on the same leg, far less through the body
CROSSTALK_SAME_LEG, CROSSTALK_OTHER_LEG = 0.6, 0.3
#: crosstalk is the source's own waveform: fitted by a bigger simultaneous
#: candidate's channel (shifted up to ECHO_LAG_S, with its slope for the part-
#: sample shift), an echo leaves under ECHO_RESIDUAL_LOOSE of its energy (the
#: echoes the size rule took on the tuning nights: median 0.02, 95th
#: percentile 0.2; the twitches it took: median 0.49).  Under the size limit
#: above, an echo needs the loose fit too; under ECHO_RESIDUAL_TIGHT it is an
#: echo at any size (through the body, two sensors on one muscle)
ECHO_LAG_S = 0.02
ECHO_RESIDUAL_LOOSE, ECHO_RESIDUAL_TIGHT = 0.5, 0.1
#: of three or more channels at once, a twitch survives if it is this many times the next
COINCIDENT_STANDOUT = 3.0
#: a candidate within TAIL_S after a twitch TAIL_RATIO times its size on its channel is that twitch's tail
TAIL_S, TAIL_RATIO = 0.25, 3.0
#: a candidate this like a whole beat of its channel is a beat the tracker
#: missed: alone, or (a little less like) with every other member of its
#: group on other channels as like theirs (a beat is felt by all sensors)
BEAT_LIKE_ALONE, BEAT_LIKE_GROUP = 0.97, 0.95
#: ... where a beat may be missing: the tracked beats either side of it this many periods apart or more
BEAT_GAP_X = 1.5
#: ... and in step with the heart, this like a beat (on the tuning nights the
#: twitches the rhythm rule took were under 0.95, mostly under 0.9; the
#: missed beats it took were 0.93 and over)
BEAT_LIKE_RHYTHM = 0.9
#: a twitch relaxes within about 0.7 s of its onset (the slower of the
#: recorded time courses, stretched), its relaxation seen through the
#: piezo's high-pass as lobes that shrink as it goes: a candidate on its
#: channel under (s after its onset, share of its peak) of the first row
#: that holds is its relaxation, not a new twitch.  (On the tuning nights,
#: of the candidates 0.2-0.4 s after a twitch those at 0.6-0.8 of it were
#: relaxation 27 times and a twitch never; at 0.6-0.7 s those under 0.3 were
#: relaxation 21 times and a twitch 6.)  A real twitch that small that soon
#: is lost: a limit said in docs/detector.md.
RELAX_ENVELOPE = ((0.4, 0.8), (0.6, 0.6), (0.7, 0.3))
#: a candidate this correlated with the beat model (or its slope) under it, and smaller, is a beat remnant
REMNANT_CORR = 0.75
#: in step with the heart: three candidates each 1 or 2 periods apart within this share of a period
RHYTHM_TOL = 0.12
#: a region longer than ``SPLIT_MS`` is cut where its activity falls below this share of its peak
SPLIT_SHARE = 0.15
#: a part still over max_twitch_ms is cut again at this share of its own peak
RESPLIT_SHARE = 0.3
#: over this (ms) a region may be two twitches in a row (a bad spell, a long one and the next)
SPLIT_MS = 300.0
#: ... and is cut where its activity stays under SPLIT_SHARE of its peak this
#: long (ms) and then rises as high as before and to this share of its
#: largest run so far (relaxation lobes shrink, or grow a little from one to
#: the next while staying far under the twitch; on the tuning nights 40-80 ms
#: did alike, 24 ms cut twitches' own lobes apart)
SPLIT_LULL_MS, SPLIT_RISE_OF_TOP = 64.0, 0.5
#: a part is cut again where a new twitch's front rises out of what went
#: before (lengths.fronts): from a valley under FRONT_VALLEY of the rise's
#: top, at least merge_ms into the part, with a one-working-sample step of
#: the band (codes per ~8 ms) at least FRONT_STEP_X times the largest swing
#: of the FRONT_PRE_S (s) before the valley, or FRONT_SLOPE_X times its
#: steepest step.  A contraction moves the skin faster than a relaxation
#: swings; on the tuning nights steps of 0.9-1.3x and valleys of 0.4-0.6
#: did alike (1.0x, 0.5 taken: round, not the best), 2.5x the steepest
#: step added a few (more than 2x cut relaxation lobes)
FRONT_VALLEY, FRONT_STEP_X, FRONT_SLOPE_X, FRONT_PRE_S = 0.5, 1.0, 2.5, 0.12


@dataclass(frozen=True)
class Rates:
    """The rates and window lengths the stages share (all derived from the config).

    Three rates: the raw ``rate_hz``; the filter rate ``ff`` (~250 Hz, ``D``
    raw samples each) for the glitch median, sensor checks, mains and the
    band-pass; the working rate ``fw`` (~125 Hz, ``D2`` filter samples each)
    for everything after, the signal being band-limited to 35 Hz by then."""
    rate_hz: float
    D: int  #: raw samples per filter sample
    ff: float  #: filter rate, Hz
    D2: int  #: filter samples per working sample
    fw: float  #: working rate, Hz
    Dt: int  #: raw samples per working sample
    chunk_raw: int  #: raw samples per chunk
    chunk_w: int  #: working samples per chunk
    pre: int  #: working samples of a beat's window before its fiducial (0.2 s)
    post: int  #: ... and after it (0.3 s)
    K: int  #: working samples a twitch can pull a beat's envelope peak (70 ms)
    burst: tuple[int, int]  #: a beat's burst around its fiducial (0.1 s before, 0.25 s after), working samples
    a_floor: float  #: per-chunk weight of the noise floors' running estimate (~38 s time constant)
    a_beat: float  #: per-chunk weight of the beat level's running estimate (~18 s)

    @property
    def L(self) -> int:
        """Working samples in a beat's window."""
        return self.pre + self.post

    def t(self, abs_idx: float) -> float:
        """Seconds from the first sample for a working-rate index (the median's
        one-sample delay and the decimation's half-block are put back)."""
        return (abs_idx * self.Dt + (self.Dt - 1) / 2) / self.rate_hz


def rates(cfg: DetectorConfig) -> Rates:
    D = max(1, int(round(cfg.rate_hz / 250.0)))
    ff = cfg.rate_hz / D
    D2 = 2 if ff >= 200 else 1
    fw = ff / D2
    Dt = D * D2
    chunk_raw = int(round(cfg.chunk_s * fw)) * Dt
    return Rates(rate_hz=cfg.rate_hz, D=D, ff=ff, D2=D2, fw=fw, Dt=Dt, chunk_raw=chunk_raw,
                 chunk_w=chunk_raw // Dt, pre=int(round(0.3 * fw)), post=int(round(0.3 * fw)),
                 K=max(1, int(round(0.07 * fw))), burst=(int(0.3 * fw), int(0.15 * fw)),
                 a_floor=float(1.0 - np.exp(-cfg.chunk_s / 38.0)), a_beat=float(1.0 - np.exp(-cfg.chunk_s / 18.0)))

#: a pulse may have a second, later wave (the reflected wave after the
#: dicrotic notch, 0.25-0.45 s after the first at 60 bpm), past the beat's
#: window (0.3 s after its peak).  What the beats' models leave from
#: TAIL_OVERLAP_S inside a beat's window to as far into the next beat's
#: (the seam between them), TAIL_MAX_S past the window at most, is learned
#: per channel as the median of the last TAIL_BEATS beats at rest (each over
#: its beat's scale; a twitch on a few of them does not move a median, and
#: TAIL_MIN_BEATS must reach a point) and subtracted where it stands
#: TAIL_X_NOISE times the beats' own spread there (their median absolute
#: deviation); elsewhere nothing is (a pulse of one wave: the model is what
#: it was).  Only between fitted beats under TAIL_PERIOD_X periods apart
#: (not across a beat not fitted, nor an ectopic beat's pause).  On the
#: second-wave bench the wave stood 4.6-47x the spread (median per night),
#: one-wave nights' seams 1-3x
TAIL_MAX_S, TAIL_BEATS, TAIL_MIN_BEATS = 0.5, 16, 8
TAIL_OVERLAP_S, TAIL_X_NOISE, TAIL_PERIOD_X = 0.15, 3.0, 1.3
#: in a subtracted beat's window a region must also pass this many times
#: what that channel's beats usually leave at that point of the window
#: (the median over the chunk's beats at rest)
REMNANT_X_LEVEL = 3.0
#: on a subtracted beat a twitch must pass this share of the beat's own 40 ms mean |x|
REMNANT_BEAT_SHARE = 0.3
#: a candidate on a subtracted beat that a mix of the beat's misfits (size,
#: timing, width, rate) explains to this share of its variance is a remnant
REMNANT_R2 = 0.8
#: a candidate under a subtracted beat and smaller than this share of it is a remnant
REMNANT_SHARE = 0.12
#: a candidate this long (ms: the shortest leg movement a sleep laboratory
#: scores) whose slow swing (0.3-3 Hz) is this many times its band peak,
#: and this many of the channel's slow floors (and the movement stage's
#: least slow swing in codes), is a short leg movement
SHORT_MOVE_MS, SHORT_MOVE_SLOW_X, SHORT_MOVE_FLOORS = 500.0, 1.0, 3.0
#: ... or one whose 40 ms activity is over SLOW_BURST_SHARE of its peak
#: for SLOW_BURST_MS (ms) or more in all while the band's mean frequency in it is
#: under SLOW_BURST_HZ: a leg's sway reaching into the band's low edge,
#: sustained (a twitch's contraction puts its band at 8-20 Hz, and its
#: activity falls within 0.1-0.3 s).  On the tuning nights, of the long
#: candidates that were leg movements the slow-swing test let through, this
#: took 13 of 27 (first board) and 25 of 53 (v2), and 2 of 5000 with twitches.
SLOW_BURST_MS, SLOW_BURST_SHARE, SLOW_BURST_HZ = 350.0, 0.3, 5.2
#: a region's onset is its first strong stretch at least this share of its peak
ONSET_SHARE = 0.1
#: ... or this share, for a region that begins within FOLLOW_S (s) of the end
#: of the region before it on its channel (its front may be that one's ringing)
ONSET_SHARE_AFTER, FOLLOW_S = 0.5, 0.8
