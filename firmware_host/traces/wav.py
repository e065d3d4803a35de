"""WAV: 16-bit PCM, one channel per sensor, code = sample / 64 + 512 (the
10-bit code left-justified into 16 bits around mid-rail)."""
from __future__ import annotations

import os
import struct
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .base import CODE_MID, WAV_SCALE, SidecarAnnotations, TraceError, TraceInfo, TraceReader, _check_rate


class WavReader(TraceReader):
    def __init__(self, path: Path):
        where = str(path)
        try:
            self._w = wave.open(str(path), "rb")
        except (wave.Error, EOFError, struct.error, RuntimeError, OverflowError, ValueError) as exc:
            # (the wave module raises a bare RuntimeError for a chunk size past the end)
            raise TraceError(f"{where}: not a readable WAV file ({exc or 'header cut short'})") from None
        if self._w.getsampwidth() != 2 or self._w.getcomptype() != "NONE":
            self._w.close()
            raise TraceError(f"{where}: WAV must be 16-bit PCM")
        rate = _check_rate(float(self._w.getframerate()), where)
        nch = self._w.getnchannels()
        nframes = self._w.getnframes()
        data_start = self._w._data_chunk.offset + 8  # noqa: SLF001 - where the frames begin
        avail = (os.path.getsize(path) - data_start) // (2 * nch)
        truncated = avail < nframes
        self.info = TraceInfo(where, "wav", rate, nch, min(nframes, avail), None,
                              [], truncated, ["file shorter than its header says"] if truncated else [])

    def blocks(self, block_samples: int = 10_000) -> Iterator[np.ndarray]:
        nch = self.info.channels
        left = self.info.n_samples
        while left > 0:
            raw = self._w.readframes(min(block_samples, left))
            n = len(raw) // (2 * nch)
            if n == 0:
                return
            left -= n
            x = np.frombuffer(raw[: n * 2 * nch], dtype="<i2").reshape(n, nch)
            yield x.astype(np.float64) / WAV_SCALE + CODE_MID

    def close(self) -> None:
        self._w.close()


class WavWriter(SidecarAnnotations):
    def __init__(self, path, rate_hz, channel_names, start=None):
        SidecarAnnotations.__init__(self, path)
        self._w = wave.open(str(path), "wb")
        self._w.setnchannels(len(channel_names))
        self._w.setsampwidth(2)
        self._w.setframerate(int(round(rate_hz)))

    def write(self, codes):
        pcm = np.clip(np.rint((np.asarray(codes, dtype=np.float64) - CODE_MID) * WAV_SCALE), -32768, 32767)
        self._w.writeframes(pcm.astype("<i2").tobytes())

    def close(self):
        self._write_annotations()
        self._w.close()
