"""The sensor sites' names: what the owner may call them, and how a name
becomes an EDF signal label.

Pure text rules (no numpy, no file formats): the page checks a name with
them, the store hands out the names with them, the EDF writer labels its
signals with them, so a name the page accepts is a label the recording can
carry.
"""
from __future__ import annotations

import unicodedata

from . import pins

EDF_LABEL_CHARS = 16  #: an EDF signal label's width (ASCII, header field)
MAX_SITE_NAME = 32  #: characters in a site's name


def edf_label(name: str) -> str:
    """A channel name as an EDF signal label: printable ASCII (the header is
    ASCII; accents are dropped, other characters too), at most 16 characters;
    may be empty."""
    ascii_ = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode("ascii")
    return "".join(c for c in ascii_ if " " <= c <= "~").strip()[:EDF_LABEL_CHARS].rstrip()


def site_name_problem(names: list[str]) -> str | None:
    """Why these sites' names cannot be used (one line), or None.  Each is
    1..32 characters with no control or invisible formatting character (NUL,
    newline, right-to-left override and the like), and each is its own in
    the EDF label it becomes (its first 16 characters, in ASCII)."""
    for c, n in enumerate(names):
        if not isinstance(n, str) or not 1 <= len(n) <= MAX_SITE_NAME:
            return f"site {c + 1}: a name of 1 to {MAX_SITE_NAME} characters"
        if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for ch in n):
            return f"site {c + 1}: the name holds a control or invisible character; use letters, digits, spaces"
    labels = [edf_label(n).casefold() for n in names]
    for c, n in enumerate(names):
        for d in range(c):
            if (labels[c] and labels[d] == labels[c]) or names[d].casefold() == n.casefold():
                return (f"sites {d + 1} and {c + 1}: each site needs its own name, different within "
                        f"its first {EDF_LABEL_CHARS} characters (the recording's label)")
    return None


def names_or_default(names, channels: int) -> list[str]:
    """``names`` (as the owner saved them) for channels 0..channels-1 when
    they are usable, else the pin table's names."""
    if isinstance(names, list) and len(names) >= channels and site_name_problem(names[:channels]) is None:
        return names[:channels]
    return pins.site_names(channels)
