"""``twitchmon run``: sample, detect, record, store (the daemon's side of the house).

The sampler runs in its own process (:class:`~firmware_host.sampler.SamplerProcess`)
and hands 100 ms blocks through a bounded queue.  This process feeds them to
the detector and the recorder, writes events to the store as they become
final, and keeps the night's counts current.  SIGTERM stops it cleanly.

Crash safety: EDF+ records are appended as each second completes and pushed
to disk every ``SYNC_S`` seconds; events are committed as the detector
finalises them.  On the next start, :func:`recover` finishes any recording
whose writer died (header fixed, annotations rebuilt from the store) and
marks its night ``recovered``, so a kill -9 or power cut costs a few seconds
of signal and no stored night.

Rooms: :mod:`.service` (the :class:`Daemon`: one method per event, jobs
post messages on its queue), :mod:`.recorder` (one night's files and store
writes), :mod:`.gaps` (the time base across missed periods),
:mod:`.held` (store writes that wait for a busy or full store),
:mod:`.recovery` (what a crash left), :mod:`.record` (``twitchmon record``).
"""
from __future__ import annotations

from .gaps import GapFiller
from .record import record
from .held import HELD_MAX_EVENTS, RETRY_S, HeldWrites
from .recorder import CLOSE_WAIT_S, DB_S, FILE_S, RESERVE_MB, SYNC_S, NightRecorder, Reserve
from .recovery import recover
from .service import DAEMON_BUSY_S, Daemon, health_state, run_daemon

__all__ = ["CLOSE_WAIT_S", "DAEMON_BUSY_S", "DB_S", "FILE_S", "HELD_MAX_EVENTS", "RESERVE_MB", "RETRY_S", "SYNC_S",
           "Daemon", "GapFiller", "HeldWrites", "NightRecorder", "Reserve", "health_state", "record", "recover",
           "run_daemon", "site_names"]


def site_names(store, channels: int) -> list[str]:
    """The sensor sites' names (:meth:`Store.site_names`)."""
    return store.site_names(channels)
