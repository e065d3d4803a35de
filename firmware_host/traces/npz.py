"""NPZ (contracts section 2): ``counts`` uint16 (samples, channels),
``rate_hz``, optional ``start_unix`` and ``channel_names``.  Read member by
member from the zip stream, so a file cut short still gives what it holds."""
from __future__ import annotations

import ast
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .. import pins
from .base import SidecarAnnotations, TraceError, TraceInfo, TraceReader, _check_rate


class _ZipMembers:
    """Walk a zip's local headers from the front, so a file cut short (its
    central directory lost) still gives the members before the cut."""

    def __init__(self, path: Path):
        self.path = path

    def members(self) -> Iterator[tuple[str, Iterator[bytes]]]:
        with open(self.path, "rb") as f:
            while True:
                head = f.read(30)
                if len(head) < 30 or head[:4] != b"PK\x03\x04":
                    return
                (_, _, flags, method, _, _, _, csize, usize, nlen, xlen) = struct.unpack("<4sHHHHHIIIHH", head)
                name = f.read(nlen).decode("utf-8", "replace")
                extra = f.read(xlen)
                if csize == 0xFFFFFFFF:  # zip64: sizes in the extra field
                    i = 0
                    while i + 4 <= len(extra):
                        hid, hlen = struct.unpack("<HH", extra[i:i + 4])
                        if hid == 1:
                            usize, csize = struct.unpack("<QQ", extra[i + 4:i + 20])
                        i += 4 + hlen
                if method not in (0, 8):
                    raise TraceError(f"{self.path}: zip member {name} uses compression {method}")
                start = f.tell()
                yield name, self._chunks(f, method, csize if not flags & 8 or csize else None)
                if flags & 8 and not csize:
                    return  # streamed member of unknown size: cannot find the next header
                f.seek(start + csize)
                if flags & 8:  # a data descriptor follows the data: find the next header
                    tail = f.read(32)
                    k = tail.find(b"PK\x03\x04")
                    if k < 0:
                        return
                    f.seek(start + csize + k)

    @staticmethod
    def _chunks(f, method: int, size: int | None) -> Iterator[bytes]:
        left = size if size is not None else float("inf")
        dec = zlib.decompressobj(-15) if method == 8 else None
        while left > 0:
            raw = f.read(int(min(1 << 20, left)))
            if not raw:
                return
            left -= len(raw)
            if dec is None:
                yield raw
            else:
                try:
                    out = dec.decompress(raw)
                except zlib.error:
                    return  # corrupt from here on: keep what came before
                if out:
                    yield out
                if dec.eof:
                    return


def _npy_header(stream: Iterator[bytes], where: str) -> tuple[np.dtype, tuple, bytes]:
    buf = b""
    for chunk in stream:
        buf += chunk
        if len(buf) >= 10:
            break
    if buf[:6] != b"\x93NUMPY":
        raise TraceError(f"{where}: member is not a .npy array")
    major = buf[6]
    hlen_size = 2 if major == 1 else 4
    while len(buf) < 8 + hlen_size:
        nxt = next(stream, b"")
        if not nxt:
            raise TraceError(f"{where}: .npy header cut short")
        buf += nxt
    hlen = int.from_bytes(buf[8:8 + hlen_size], "little")
    while len(buf) < 8 + hlen_size + hlen:
        nxt = next(stream, b"")
        if not nxt:
            raise TraceError(f"{where}: .npy header cut short")
        buf += nxt
    try:
        d = ast.literal_eval(buf[8 + hlen_size:8 + hlen_size + hlen].decode("latin1"))
        dtype = np.dtype(d["descr"])
        shape = tuple(int(s) for s in d["shape"])
        fortran = bool(d["fortran_order"])
    except (ValueError, SyntaxError, KeyError, TypeError) as exc:
        raise TraceError(f"{where}: bad .npy header ({exc})") from None
    if fortran and len(shape) > 1 and shape[1] > 1:
        raise TraceError(f"{where}: Fortran-ordered arrays are not supported")
    if dtype.hasobject:
        raise TraceError(f"{where}: object arrays are not read (unsafe)")
    return dtype, shape, buf[8 + hlen_size + hlen:]


class NpzReader(TraceReader):
    def __init__(self, path: Path):
        where = str(path)
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":
                raise TraceError(f"{where}: not an .npz (zip) file")
        self._path = path
        meta: dict[str, np.ndarray] = {}
        counts_seen = False
        for name, stream in _ZipMembers(path).members():
            key = name[:-4] if name.endswith(".npy") else name
            if key == "counts":
                counts_seen = True
                dtype, shape, _ = _npy_header(stream, f"{where}:counts")
                self._counts_dtype, self._counts_shape = dtype, shape
                continue
            if key in ("rate_hz", "start_unix", "channel_names"):
                dtype, shape, rest = _npy_header(stream, f"{where}:{key}")
                data = rest + b"".join(stream)
                n = int(np.prod(shape)) if shape else 1
                if len(data) < n * dtype.itemsize:
                    continue
                meta[key] = np.frombuffer(data[: n * dtype.itemsize], dtype=dtype).reshape(shape)
        if not counts_seen:
            raise TraceError(f"{where}: .npz has no 'counts' array")
        if "rate_hz" not in meta:
            raise TraceError(f"{where}: .npz has no 'rate_hz' (or the file is cut before it)")
        if len(self._counts_shape) not in (1, 2) or self._counts_dtype.kind not in "uif":
            raise TraceError(f"{where}: 'counts' must be a (samples, channels) number array")
        rate = _check_rate(float(np.asarray(meta["rate_hz"]).reshape(-1)[0]), where)
        nch = self._counts_shape[1] if len(self._counts_shape) == 2 else 1
        if nch < 1:
            raise TraceError(f"{where}: 'counts' has no channels")
        names = [str(s) for s in meta.get("channel_names", np.array([])).reshape(-1)]
        start = meta.get("start_unix")
        self._expected = self._counts_shape[0]
        self.info = TraceInfo(where, "npz", rate, nch, None,
                              float(np.asarray(start).reshape(-1)[0]) if start is not None else None,
                              names, False)

    def blocks(self, block_samples: int = 10_000) -> Iterator[np.ndarray]:
        nch = self.info.channels
        for name, stream in _ZipMembers(self._path).members():
            if name not in ("counts.npy", "counts"):
                continue
            dtype, _, buf = _npy_header(stream, f"{self.info.path}:counts")
            frame = dtype.itemsize * nch
            want = block_samples * frame
            got = 0
            for chunk in stream:
                buf += chunk
                while len(buf) >= want:
                    block, buf = buf[:want], buf[want:]
                    got += block_samples
                    yield np.frombuffer(block, dtype=dtype).reshape(-1, nch).astype(np.float64)
            n = len(buf) // frame
            got += n
            if n:
                yield np.frombuffer(buf[: n * frame], dtype=dtype).reshape(-1, nch).astype(np.float64)
            self.info.n_samples = got
            self.info.truncated = got < self._expected
            return


class NpzWriter(SidecarAnnotations):
    """Streams ``counts`` into an uncompressed .npz; metadata members first
    so that a file cut short keeps its rate."""

    def __init__(self, path, rate_hz, channel_names, start=None, *, n_samples: int):
        SidecarAnnotations.__init__(self, path)
        self._z = zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True)
        meta = {"rate_hz": np.float64(rate_hz), "channel_names": np.array([str(n) for n in channel_names])}
        if start is not None:
            meta["start_unix"] = np.float64(start.timestamp())
        for k, v in meta.items():
            with self._z.open(k + ".npy", "w") as m:
                np.lib.format.write_array(m, np.asarray(v), allow_pickle=False)
        self._m = self._z.open("counts.npy", "w", force_zip64=True)
        np.lib.format.write_array_header_1_0(
            self._m, {"descr": "<u2", "fortran_order": False, "shape": (int(n_samples), len(channel_names))})
        self._left = int(n_samples)

    def write(self, codes):
        codes = np.clip(np.rint(np.asarray(codes)), 0, pins.ADC_MAX_CODE).astype("<u2")[: self._left]
        self._left -= len(codes)
        self._m.write(codes.tobytes())

    def close(self):
        self._write_annotations()
        self._m.close()
        self._z.close()
