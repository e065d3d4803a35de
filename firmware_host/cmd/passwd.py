"""``twitchmon passwd``: the owner's password for the page."""
from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from werkzeug.security import generate_password_hash

from ..errors import UsageError
from ..paths import SYSTEM_DIR, data_dir
from ..store import open_store


def main(args) -> int:

    d = _passwd_dir(args.data_dir)  # before asking: a dir it cannot write is said first
    if d is None:
        return 1
    if sys.stdin.isatty():
        pw = getpass.getpass("New owner's password: ")
        if getpass.getpass("Again: ") != pw:
            raise UsageError("twitchmon passwd: the two passwords differ")
    else:
        pw = sys.stdin.readline().rstrip("\n")
    if len(pw) < 8:
        raise UsageError("twitchmon passwd: use at least 8 characters")
    store = open_store(d)
    store.set_password_hash(generate_password_hash(pw))  # and every page session logged out
    print(f"password set in {d} (the page reads it from there)")
    return 0


def _passwd_dir(explicit: str | None) -> Path | None:
    """Where ``passwd`` writes, or None after saying in one line why it cannot.

    An installed Pi's service reads /var/lib/twitchmon only: a user who
    cannot write it is told so, instead of getting a password in
    ~/.local/share that the page never sees.  Root becomes the data dir's
    owner first, so the database files stay the service's own."""
    d = data_dir(explicit)
    if not explicit and not os.environ.get("TWITCHMON_DATA") and SYSTEM_DIR.is_dir() and d != SYSTEM_DIR:
        print(f"twitchmon passwd: cannot write {SYSTEM_DIR}, the service's data dir: "
              f"run it as root (sudo twitchmon passwd)", file=sys.stderr)
        return None
    if os.geteuid() == 0 and d.is_dir():
        st = d.stat()
        if st.st_uid != 0:
            os.setgroups([])
            os.setgid(st.st_gid)
            os.setuid(st.st_uid)
    return d
