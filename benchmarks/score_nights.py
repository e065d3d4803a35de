"""Score the detector on simulated labelled nights (development loop).

    python benchmarks/score_nights.py normal 1,2,3 [minutes] [-v]
"""
import sys, time, json, numpy as np
from firmware_host.simulator import Night
from firmware_host.detector import run_detector
from firmware_host.scoring import score
prof = sys.argv[1]; seeds = [int(s) for s in sys.argv[2].split(',')]; minutes=float(sys.argv[3]) if len(sys.argv)>3 and sys.argv[3]!='-v' else 10
for seed in seeds:
    n = Night(minutes, seed=seed, profile=prof)
    t=time.time()
    ev, det = run_detector(n.blocks(20000), n.rate_hz, n.channels)
    el=time.time()-t
    tw=[x.as_dict() for x in ev.twitches]
    s = score(tw, n.truth()['twitches'])
    print(prof, seed, f"f1={s['f1']} P={s['precision']} R={s['recall']} det={s['detected']} true={s['true']} cerr={s['count_error']} mv={len(ev.movements)}/{len(n.movements)} rest={det.rest_s:.0f} hr={det.heart_rate_bpm}/{n.hr_bpm:.0f} mains={det.mains_hz}/{n.mains_hz} {el:.2f}s")
    if '-v' in sys.argv:
        for fp in s['false_positives'][:8]: print('  FP', fp)
        for m in s['missed'][:8]: print('  MISS', m)
