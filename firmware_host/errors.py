"""The base of twitchmon's own errors, apart from any part that raises them.

Each module's errors derive from :class:`TwitchmonError` and from the builtin
they resemble (gpiozero's habit: ``ADCError(TwitchmonError, OSError)``), so a
caller may catch either.  It lives here, not in the ADC module, so the
settings, the store and the trace readers need not import the ADC.
"""
from __future__ import annotations


class TwitchmonError(Exception):
    """Base of twitchmon's own errors."""
