"""Score the detector on the simulator family: nights drawn over wide ranges
of every parameter, and the named stress profiles.

    python benchmarks/detector_family.py [--set tuning|held-out|stress|all] [--minutes 10] [--jobs N]

Every figure here comes from our own generator (firmware_host.simulator,
``FAMILY`` profiles): a model of the world, not the world.  Each night's
seed also draws its channel count (1-8) and rate (250, 500 or 1000 Hz).

- ``tuning``: the nights the detector may be looked at and tuned on (see
  the history below).
- ``held-out``: 120 ``family`` nights, and ``stress``: 16 nights of each
  stress profile.  Fixed before scoring and never tuned on: if you retune
  on them, pick new seeds and say so.

A detection matches a true twitch on its channel within 150 ms of its onset;
twitches below the scored floor (25 x the noise in the 3-35 Hz band) or in a
movement's or a fault's margin are scored neither way (``ambiguous``).
Prints one row a night, then per set the mean F1, its 10th percentile, the
worst night, the mean count error, twitch-free nights' counts, and the heart
rate: the error where reported, and how often it was reported where the
heartbeat was at least 1x the raw noise.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from firmware_host import frontend
from firmware_host.detector import run_detector
from firmware_host.scoring import score
from firmware_host.simulator import STRESS, Night

CHANNELS = (1, 2, 3, 4, 4, 4, 6, 8)
RATES = (250.0, 500.0, 1000.0, 1000.0)

# History, so the held-out figures mean what they say: family 10001-10060 and
# stress 20001-20008 were the first held-out sets; scoring them once showed
# two failures (a night opening with a long movement set the noise floor and
# the beat level) that were then fixed, so they joined the tuning nights and
# 30001-30060 / 40001-40008 were drawn as the held-out sets.
# In the third session 30001-30060 and 40001-40008 were looked at night by
# night to find what the errors were (a glitch's repair under hum, the last
# beats of a recording, twitches' relaxations), so they joined the tuning
# nights too, and 50001-50060 / 60001-60008 were drawn as the held-out sets,
# scored once after those fixes.  Later in that session one of them (the
# weak-heart night 60007's heart rate) was looked at, and more changes were
# made on the tuning nights, so 70001-70060 / 80001-80008 were drawn as the
# held-out sets the session's final figures come from (each scored once).
# In the fourth session the changes (a stand-in floor forgotten at the first
# rest; movement judged per sensor) were made on the tuning nights alone, and
# 90001-90060 / 100001-100008 were drawn as the held-out sets for its final
# figures; the third session's held-out sets are reported with the earlier ones.
# In the fifth session the changes (echoes by waveform, the rhythm and tail
# rules on evidence) were made on the tuning nights alone, the fourth
# session's held-out sets were not looked at, and 110001-110060 /
# 120001-120008 were drawn for its final figures; 90001-90060 /
# 100001-100008 joined the earlier ones.
# In the seventh session the changes (short leg movements among the
# candidates, trains of twitches by their slow swing, over-long regions cut
# again, onsets after a close predecessor) were made on the tuning nights
# alone; 110001-110060 / 120001-120008 were not looked at and joined the
# earlier ones, and 130001-130060 / 140001-140008 were drawn and scored once.
# Three of their nights were then looked at (a real short movement taken for
# a train, a weak movement's region cut again, an early onset): two changes
# tried on the tuning nights because of them were dropped, nothing changed,
# and 150001-150060 / 160001-160008 were drawn to join them, scored once.
# The held-out figures are those first scores of both.
# In the eighth session the changes (an echo of any bigger event on another
# sensor while it lasts; a beat-shaped candidate a beat only where a beat can
# be) were made on the tuning nights alone; 130001-130060, 150001-150060,
# 140001-140008 and 160001-160008 joined the earlier ones.  After the first
# change 170001-170060 + 190001-190060 / 180001-180008 + 200001-200008 were
# drawn and scored once; after the second they joined the earlier ones too
# (not looked at night by night), and 210001-210060 + 230001-230060 /
# 220001-220008 + 240001-240008 were drawn and scored once.  One stress seed
# of those (220002, bad on all seven profiles) was then looked at: a working
# sensor with 7.7 codes of mains on its cable was taken for a loose lead.
# That was fixed (hum is a fault over 15 codes rms, judged on the tuning
# nights: one changed), so they joined the earlier ones as well, and
# 250001-250060 + 270001-270060 / 260001-260008 + 280001-280008 were drawn
# and scored once for the session's final figures.
# In the ninth session the change (faint candidates, 8-9 noise floors, count
# with evidence) was made on the tuning nights alone; 250001-250060,
# 270001-270060, 260001-260008 and 280001-280008 joined the earlier ones,
# and 290001-290060 + 310001-310060 / 300001-300008 + 320001-320008 were
# drawn and scored once, before and after the change, for its figures.
# In the tenth session the change (a long region cut at a lull when the
# activity rises as high again) was made on the tuning nights alone; those
# sets joined the earlier ones, and 330001-330060 + 350001-350060 /
# 340001-340008 + 360001-360008 were drawn and scored once, before and
# after the change, for its figures.  Two of them were then looked at
# (family 330022 and 350004 through the v2 board: a region that stopped the
# detector, a heart rate read at half): both fixed, no twitch changed on
# any other night; these sets are among the earlier ones from now on.
# In the eleventh session the family changed (a site's twitches may overlap:
# the same seeds, nights a few twitches richer) and 370001-370060 +
# 390001-390060 / 380001-380008 + 400001-400008 were drawn and scored once,
# before and after a change made on the tuning nights alone.  The change did
# not hold on them and was taken back; one night (family 370054 through the
# v2 board) was looked at for its heart rate (fixed): they joined the earlier
# ones in the twelfth session.
# In the twelfth session the scoring was mended (a detection at another
# motor unit's onset under RESOLVE_S after a scored twitch is that twitch
# found: the later onset had been listed as not scored, and the closest-first
# matching excused the detection against it and missed the twitch).  Three
# detector changes were tried on the tuning nights alone and dropped there
# (a cut before a bigger contraction on a relaxation, +0.001 F1, that also
# cut short leg movements in two; higher short-movement floors, -0.002; a
# beat-remnant test on what the misfits leave, no change), so the detector
# is the eleventh session's; 410001-410060 + 430001-430060 / 420001-420008 +
# 440001-440008 were drawn and scored with it for the session's figures.
# The first change, given a guard (no cut where another sensor shares the
# rise: a moving leg), was then scored on them too: mixed (trains and early
# better, the v2 family's count error 8.1% -> 9.3%, two twitch-free nights
# counted 2 for 1), night-level rows compared, and taken back: these sets
# join the earlier ones in the next session.
# In the thirteenth session they did, and 450001-450060 + 470001-470060 /
# 460001-460008 + 480001-480008 were drawn, to be scored once with the
# session's detector (and with the twelfth's, for before and after).
# They were (the quick-jerk rule and the crosstalk scoring: small nights'
# false alarms fewer, no twitch lost), and join the earlier ones in the
# fourteenth session, which drew 490001-490060 + 510001-510060 /
# 500001-500008 + 520001-520008 and scored them before and after a change
# made on the tuning nights (cuts at new twitches' fronts).  Two of their
# nights were then looked at (family 490049: a railed sensor stopped the
# heartbeat for all; 510031: a movement ending in an unplugged lead was
# lost) and fixed, so they joined the earlier ones in the same session, and
# 530001-530060 + 550001-550060 / 540001-540008 + 560001-560008 were drawn
# for the session's figures, scored once before and once after.
# In the fifteenth session those join the earlier ones, and 570001-570060 +
# 590001-590060 / 580001-580008 + 600001-600008 are drawn for its figures.
# In the sixteenth session those join the earlier ones, and 610001-610060 +
# 630001-630060 / 620001-620008 + 640001-640008 are drawn for its figures;
# scored before and after its changes, one of their nights was looked at
# (family 630054: a heart rate 4.9 bpm off) and fixed, so they joined the
# earlier ones in the same session, and 650001-650060 + 670001-670060 /
# 660001-660008 + 680001-680008 were drawn for the session's figures.
# In the seventeenth session those join the earlier ones (scored twice,
# before and after the sixteenth session's changes), and 690001-690060 +
# 710001-710060 / 700001-700008 + 720001-720008 are drawn for its figures.
TUNING = [("family", s) for s in list(range(1, 31)) + list(range(10001, 10061)) + list(range(30001, 30061))] + \
         [(p, s) for p in STRESS for s in list(range(20001, 20009)) + list(range(40001, 40009))]
EARLIER_HELD_OUT = [("family", s) for s in list(range(50001, 50061)) + list(range(70001, 70061))
                    + list(range(90001, 90061)) + list(range(110001, 110061))
                    + list(range(130001, 130061)) + list(range(150001, 150061))
                    + list(range(170001, 170061)) + list(range(190001, 190061))
                    + list(range(210001, 210061)) + list(range(230001, 230061))
                    + list(range(250001, 250061)) + list(range(270001, 270061))
                    + list(range(290001, 290061)) + list(range(310001, 310061))
                    + list(range(330001, 330061)) + list(range(350001, 350061))
                    + list(range(370001, 370061)) + list(range(390001, 390061))
                    + list(range(410001, 410061)) + list(range(430001, 430061))
                    + list(range(450001, 450061)) + list(range(470001, 470061))
                    + list(range(490001, 490061)) + list(range(510001, 510061))
                    + list(range(530001, 530061)) + list(range(550001, 550061))
                    + list(range(570001, 570061)) + list(range(590001, 590061))
                    + list(range(610001, 610061)) + list(range(630001, 630061))
                    + list(range(650001, 650061)) + list(range(670001, 670061))] + \
                   [(p, s) for p in STRESS for s in list(range(60001, 60009)) + list(range(80001, 80009))
                    + list(range(100001, 100009)) + list(range(120001, 120009))
                    + list(range(140001, 140009)) + list(range(160001, 160009))
                    + list(range(180001, 180009)) + list(range(200001, 200009))
                    + list(range(220001, 220009)) + list(range(240001, 240009))
                    + list(range(260001, 260009)) + list(range(280001, 280009))
                    + list(range(300001, 300009)) + list(range(320001, 320009))
                    + list(range(340001, 340009)) + list(range(360001, 360009))
                    + list(range(380001, 380009)) + list(range(400001, 400009))
                    + list(range(420001, 420009)) + list(range(440001, 440009))
                    + list(range(460001, 460009)) + list(range(480001, 480009))
                    + list(range(500001, 500009)) + list(range(520001, 520009))
                    + list(range(540001, 540009)) + list(range(560001, 560009))
                    + list(range(580001, 580009)) + list(range(600001, 600009))
                    + list(range(620001, 620009)) + list(range(640001, 640009))
                    + list(range(660001, 660009)) + list(range(680001, 680009))]
HELD_OUT = [("family", s) for s in list(range(690001, 690061)) + list(range(710001, 710061))]
STRESS_SET = [(p, s) for p in STRESS for s in list(range(700001, 700009)) + list(range(720001, 720009))]


def night_for(profile: str, seed: int, minutes: float, board: bool = False, second_wave: bool = False) -> Night:
    """The family night of this seed: its channels and rate drawn from it too
    (``board``: through the v2 sensor board's model; ``second_wave``: each
    beat's pulse with a later second wave, see ``Night``)."""
    rng = np.random.default_rng([seed, 99])
    channels = int(rng.choice(CHANNELS))
    if profile == "coincident":
        channels = max(channels, 2)
    return Night(minutes, seed=seed, profile=profile, channels=channels, rate_hz=float(rng.choice(RATES)),
                 board=board, second_wave=second_wave)


def one(args) -> dict:
    profile, seed, minutes, board = args
    n = night_for(profile, seed, minutes, board)
    truth = n.truth()
    t0 = time.perf_counter()
    ev, det = run_detector(n.blocks(50_000), n.rate_hz, n.channels, gain=frontend.detector_gain() if board else 1.0)
    el = time.perf_counter() - t0
    s = score([x.as_dict() for x in ev.twitches], truth["twitches"], ignore=truth["ambiguous"])
    return {"profile": profile, "seed": seed, "channels": n.channels, "rate": n.rate_hz, "s": s,
            "hr": det.heart_rate_bpm, "hr_true": truth["heart_rate_true_bpm"],
            "hb_x": truth["heartbeat_x_noise"], "noise": float(np.mean(n.noise_sd)), "el": el}


def summary(name: str, rows: list[dict]) -> None:
    scored = [r for r in rows if r["s"]["true"] > 0]
    free = [r for r in rows if r["s"]["true"] == 0]
    if scored:
        f1 = np.array([r["s"]["f1"] for r in scored])
        ce = np.array([r["s"]["count_error"] for r in scored])
        worst = scored[int(np.argmin(f1))]
        print(f"{name}: {len(scored)} nights: mean F1 {f1.mean():.3f}, 10th pct {np.percentile(f1, 10):.3f}, "
              f"worst {f1.min():.3f} ({worst['profile']} {worst['seed']}), mean count error "
              f"{100 * ce.mean():.1f}% (worst {100 * ce.max():.1f}%), "
              f"P {np.mean([r['s']['precision'] for r in scored]):.3f} R {np.mean([r['s']['recall'] for r in scored]):.3f}")
    if free:
        print(f"{name}: twitch-free nights counted {[r['s']['detected'] for r in free]}")
    rep = [r for r in rows if r["hr"] is not None]
    err = [abs(r["hr"] - r["hr_true"]) for r in rep]
    strong = [r for r in rows if r["hb_x"] >= 1.0]
    print(f"{name}: heart rate reported on {len(rep)}/{len(rows)} nights "
          f"({sum(r['hr'] is not None for r in strong)}/{len(strong)} with heartbeat >= 1x noise); "
          f"error where reported: max {max(err) if err else float('nan'):.1f} bpm, "
          f"within 2 bpm on {sum(e <= 2 for e in err)}/{len(err)}")


def run(name, nights, minutes, jobs, board=False) -> list[dict]:
    print(f"# {name}")
    print(f"{'profile':16} {'seed':>5} {'ch':>2} {'Hz':>5} {'noise':>5} {'hb x':>5} {'true':>5} {'found':>5} "
          f"{'P':>6} {'R':>6} {'F1':>6} {'cnt err':>7} {'HR bpm':>13}")
    with ProcessPoolExecutor(jobs) as ex:
        rows = list(ex.map(one, [(p, s, minutes, board) for p, s in nights]))
    for r in rows:
        s = r["s"]
        print(f"{r['profile']:16} {r['seed']:5d} {r['channels']:2d} {r['rate']:5.0f} {r['noise']:5.2f} "
              f"{r['hb_x']:5.1f} {s['true']:5d} {s['detected']:5d} {s['precision']:6.3f} {s['recall']:6.3f} "
              f"{s['f1']:6.3f} {s['count_error']:7.3f} {str(r['hr']):>6}/{r['hr_true']:<6.1f}")
    summary(name, rows)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", choices=["tuning", "held-out", "stress", "earlier", "all"], default="held-out",
                    help="earlier: the held-out sets before the last ones (see the history above)")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--profile", help="only this profile (stress set)")
    ap.add_argument("--board", action="store_true",
                    help="the nights through the v2 sensor board's model (firmware_host.frontend)")
    a = ap.parse_args(argv)
    if a.set in ("tuning", "all"):
        run("tuning", TUNING, a.minutes, a.jobs, a.board)
    if a.set in ("held-out", "all"):
        run("held-out", HELD_OUT, a.minutes, a.jobs, a.board)
    if a.set == "earlier":
        run("earlier", EARLIER_HELD_OUT, a.minutes, a.jobs, a.board)
    if a.set in ("stress", "all"):
        rows = run("stress", [n for n in STRESS_SET if not a.profile or n[0] == a.profile], a.minutes, a.jobs,
                   a.board)
        for p in STRESS:
            sub = [r for r in rows if r["profile"] == p]
            if sub:
                summary(p, sub)
    return 0


if __name__ == "__main__":
    sys.exit(main())
