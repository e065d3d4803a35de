"""The base of twitchmon's own errors, apart from any part that raises them.

Each module's errors derive from :class:`TwitchmonError` and from the builtin
they resemble (gpiozero's habit: ``ADCError(TwitchmonError, OSError)``), so a
caller may catch either.  It lives here, not in the ADC module, so the
settings, the store and the trace readers need not import the ADC.
"""
from __future__ import annotations


class TwitchmonError(Exception):
    """Base of twitchmon's own errors."""


class UsageError(TwitchmonError):
    """Bad usage or unreadable input: the command exits 2 with this one line."""


class StartError(TwitchmonError):
    """A failure at start that is not bad usage (a busy port, no SPI device): exit 1 with this one line."""


class TraceError(TwitchmonError, ValueError):
    """A file that cannot be read as a trace; the message is one line."""


class ListenError(OSError):
    """The page cannot listen on its host and port; the cause is the socket's OSError."""
