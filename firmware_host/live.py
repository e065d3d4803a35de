"""The live signal, from the daemon to the page, for placing sensors.

The daemon writes the last few seconds of raw codes into a small ring file
in memory (``$RUNTIME_DIRECTORY`` under systemd, else ``/dev/shm``: never the
SD card) and records the file's path in the store (``Store.live_path``).
The web process maps the same file read-only and streams what is new as
Server-Sent Events.  One writer, any number of readers, no locks:

* the writer copies the new frames into the ring, then advances ``count``
  (frames written since the ring was made);
* a reader remembers the ``count`` it has seen, copies frames from there to
  the current ``count``, then reads ``count`` again and drops any frame the
  writer may have overwritten meanwhile.

Layout (little endian): a 64-byte header, then ``capacity`` frames of
``channels`` int16 codes, then the names of the sensor states
(``events.SENSOR_STATES``, NUL-separated, 256 bytes), so the page reads
them without importing the detector (and scipy).

====== ======= =====================================================
offset type    field
====== ======= =====================================================
0      8s      magic ``TWLIVE2\\0``
8      u32     channels
12     u32     capacity, frames
16     f64     rate_hz of the frames
24     u64     count: frames written so far
32     f64     updated: Unix time of the last write, s
40     i64     night id being recorded, or -1 when not recording
48     8 x u8  sensor status per channel (index into SENSOR_STATES)
56     8       reserved
====== ======= =====================================================

A frame a reader sees may in rare cases mix two writes (no memory barrier
between the copy and the count on a weakly ordered CPU); for a display
that is one odd sample, and nothing is counted from this path.
"""
from __future__ import annotations

import hashlib
import mmap
import os
import struct
import tempfile
import time
from pathlib import Path

import numpy as np

from .events import SENSOR_STATES

MAGIC = b"TWLIVE2\0"
HEADER = struct.Struct("<8sIIdQdq8s8x")
assert HEADER.size == 64
MAX_CHANNELS = 8
RING_S = 10.0  #: seconds of signal the ring holds
KINDS_BYTES = 256


class LiveError(ValueError):
    """No live signal file, or not one of ours."""


def default_path(data_dir: str | os.PathLike) -> Path:
    """Where the daemon puts the ring: systemd's runtime dir (tmpfs), else
    /dev/shm, else (neither exists) the data dir."""
    run = os.environ.get("RUNTIME_DIRECTORY")
    if run:
        return Path(run.split(":")[0]) / "live.ring"
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        tag = hashlib.sha1(str(Path(data_dir).resolve()).encode()).hexdigest()[:10]
        return Path("/dev/shm") / f"twitchmon-{os.getuid()}-{tag}.ring"
    return Path(data_dir) / "live.ring"


def publish(store, data_dir, channels: int, rate_hz: float) -> "LiveWriter":
    """Make the ring where :func:`default_path` says and tell the page where
    it is (store setting ``live_path``).  OSError/ValueError if it cannot."""
    w = LiveWriter(default_path(data_dir), channels, rate_hz)
    store.set_live_path(str(w.path))
    return w


class LiveWriter:
    """The daemon's side.  ``write(codes)`` takes (n, channels) codes."""

    def __init__(self, path: str | os.PathLike, channels: int, rate_hz: float, seconds: float = RING_S):
        if not 1 <= channels <= MAX_CHANNELS:
            raise ValueError(f"live ring holds 1..{MAX_CHANNELS} channels, not {channels}")
        self.path = Path(path)
        self.channels, self.rate_hz = channels, float(rate_hz)
        self.capacity = max(1, int(round(seconds * rate_hz)))
        self.kinds = list(SENSOR_STATES)
        kinds = b"\0".join(k.encode() for k in self.kinds)
        if len(kinds) > KINDS_BYTES:
            raise ValueError("sensor state names do not fit the live ring")
        size = HEADER.size + 2 * self.capacity * channels + KINDS_BYTES
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # made whole under a temporary name, then renamed: a reader never
        # sees a half-made header
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".live-")
        try:
            # real pages, not a sparse file: a write into an mmap'd hole on a full
            # filesystem is SIGBUS, which would kill the recorder mid-night
            os.posix_fallocate(fd, 0, size)
            self._mm = mmap.mmap(fd, size)
        except OSError:
            os.unlink(tmp)
            raise
        finally:
            os.close(fd)
        self._mm[size - KINDS_BYTES:size - KINDS_BYTES + len(kinds)] = kinds
        self._ring = np.ndarray((self.capacity, channels), dtype="<i2", buffer=self._mm, offset=HEADER.size)
        self.count = 0
        self._status = bytes(MAX_CHANNELS)
        self._night = -1
        self._header()
        os.chmod(tmp, 0o640)
        os.replace(tmp, self.path)

    def _header(self) -> None:
        HEADER.pack_into(self._mm, 0, MAGIC, self.channels, self.capacity, self.rate_hz, self.count,
                         time.time(), self._night, self._status)

    def set_state(self, status: list[str] | None = None, night_id: int | None = None) -> None:
        """Sensor status names per channel and the night being recorded (None: not recording)."""
        if status is not None:
            idx = [self.kinds.index(s) if s in self.kinds else 0 for s in status][:MAX_CHANNELS]
            self._status = bytes(idx + [0] * (MAX_CHANNELS - len(idx)))
        self._night = -1 if night_id is None else int(night_id)
        self._header()

    def write(self, codes) -> None:
        x = np.asarray(codes)
        if x.ndim != 2 or x.shape[1] != self.channels:
            raise ValueError(f"live ring wants (n, {self.channels}) codes, got {x.shape}")
        total = len(x)
        x = x[-self.capacity:]
        n = len(x)
        i = (self.count + total - n) % self.capacity
        first = min(n, self.capacity - i)
        self._ring[i:i + first] = x[:first]
        if n > first:
            self._ring[:n - first] = x[first:]
        self.count += total
        self._header()

    def tail(self, n: int) -> np.ndarray:
        """The last ``n`` frames written (fewer if the ring holds fewer)."""
        idx = np.arange(max(0, self.count - min(n, self.capacity)), self.count) % self.capacity
        return self._ring[idx].copy()

    def close(self, remove: bool = True) -> None:
        self._ring = None
        self._mm.close()
        if remove:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass


class LiveReader:
    """The web page's side: ``read()`` returns the frames written since the
    last call (at most the ring's capacity)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            with open(self.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < HEADER.size:
                    raise LiveError(f"{self.path}: not a live signal file")
                self._mm = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ)
        except OSError as exc:
            raise LiveError(f"{self.path}: {exc.strerror or exc}") from None
        magic, self.channels, self.capacity, self.rate_hz, count, *_ = HEADER.unpack_from(self._mm, 0)
        if magic != MAGIC or not 1 <= self.channels <= MAX_CHANNELS or \
                size < HEADER.size + 2 * self.capacity * self.channels + KINDS_BYTES or not self.rate_hz > 0:
            self._mm.close()
            raise LiveError(f"{self.path}: not a live signal file")
        self._ring = np.ndarray((self.capacity, self.channels), dtype="<i2", buffer=self._mm, offset=HEADER.size)
        self.seen = count
        at = HEADER.size + 2 * self.capacity * self.channels
        names = bytes(self._mm[at:at + KINDS_BYTES]).rstrip(b"\0").split(b"\0")
        self.kinds = [k.decode("ascii", "replace") for k in names]

    def state(self) -> dict:
        _, _, _, _, count, updated, night, status = HEADER.unpack_from(self._mm, 0)
        return {"count": count, "updated_unix": updated, "night_id": None if night < 0 else night,
                "status": [self.kinds[b] if b < len(self.kinds) else "ok" for b in status[:self.channels]]}

    def _count(self) -> int:
        return HEADER.unpack_from(self._mm, 0)[4]

    def read(self, max_frames: int | None = None) -> tuple[int, np.ndarray]:
        """(index of the first frame returned, frames (n, channels) int16)."""
        end = self._count()
        if end < self.seen:  # the daemon restarted and made a new ring
            self.seen = 0
        start = max(self.seen, end - self.capacity)
        if max_frames is not None:
            start = max(start, end - max_frames)
        idx = np.arange(start, end) % self.capacity
        out = self._ring[idx].copy()
        after = self._count()
        lost = max(0, after - self.capacity - start)  # overwritten while we copied
        self.seen = end
        return start + lost, out[lost:]

    def tail(self, n: int) -> np.ndarray:
        """The last ``n`` frames written (fewer if the ring holds fewer)."""
        end = self._count()
        idx = np.arange(max(0, end - min(n, self.capacity)), end) % self.capacity
        return self._ring[idx].copy()

    def close(self) -> None:
        self._ring = None
        self._mm.close()
