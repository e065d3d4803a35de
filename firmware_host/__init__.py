"""twitchmon's Pi-side daemon: ADC, sampler, detector, store, scheduler, CLI.

twitchmon counts leg-muscle twitches at rest.  It is not a medical device
and never diagnoses.
"""
__version__ = "0.1.0"
