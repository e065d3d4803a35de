"""Shared-memory rings between the daemon and its sampler process.

Both are plain buffers mapped by the two processes (a ``memfd``, or an
unlinked temporary file where there is none), with no numpy on the sampler's
side: the sampler packs each frame straight into its place with
:mod:`struct`, and the daemon views the block where it lies.

:class:`BlockRing` carries sampled blocks from the sampler to the daemon.
The sampler may only write a slot the daemon has released; it says a block
is ready by one byte on a pipe (the pipe's lock orders the block's bytes
before the byte that announces them, on any CPU).  Layout (little endian):

====== ============ ==================================================
offset type         field
====== ============ ==================================================
0      8s           magic ``TWBLK1\\0\\0``
8      u32 x 3      slots, frames per slot, channels
20     u32          stop: the daemon sets 1 to end the sampler
24     u64          released: blocks the daemon is done with
32     32 x slots   per slot: u64 first_index, f64 t_mono, u32 frames, u32 read_errors, 8 spare
...    u16          slots x frames x channels codes
====== ============ ==================================================

:class:`SignalFeed` carries a signal the other way, for the stand-ins (the
simulator, a recording, the emulator's analog inputs): the daemon renders
ahead, the sampler takes one frame per period as it would from the ADC.
Header: magic ``TWFEED1\\0``, u32 channels, u32 capacity (frames),
u64 written, u64 read (the sampler's position), u32 ended.
"""
from __future__ import annotations

import mmap
import os
import struct
import tempfile

BLOCK_MAGIC = b"TWBLK1\0\0"
BLOCK_HEADER = struct.Struct("<8sIIII")  # magic, slots, frames, channels, stop
RELEASED = struct.Struct("<Q")
RELEASED_AT = 24
SLOT_META = struct.Struct("<QdII8x")
META_AT = 32

FEED_MAGIC = b"TWFEED1\0"
FEED_HEADER = struct.Struct("<8sII")  # magic, channels, capacity
FEED_COUNTS = struct.Struct("<QQ")  # written, read
FEED_COUNTS_AT = 16
FEED_ENDED_AT = 32
FEED_DATA_AT = 40


def shared_fd(name: str, size: int) -> int:
    """A file descriptor of ``size`` zeroed bytes that a child can inherit and map."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create(name, 0)  # inheritable only through pass_fds: CLOEXEC is the default
    else:  # macOS: a temporary file, unlinked at once
        fd, path = tempfile.mkstemp(prefix=name)
        os.unlink(path)
    os.ftruncate(fd, size)
    return fd


class BlockRing:
    """``slots`` blocks of up to ``frames`` frames of ``channels`` uint16 codes."""

    def __init__(self, fd: int, *, create: tuple[int, int, int] | None = None):
        if create is not None:
            slots, frames, channels = create
            os.ftruncate(fd, self.size(slots, frames, channels))
        self.fd = fd
        self.mm = mmap.mmap(fd, 0)
        if create is not None:
            BLOCK_HEADER.pack_into(self.mm, 0, BLOCK_MAGIC, slots, frames, channels, 0)
        magic, self.slots, self.frames, self.channels, _ = BLOCK_HEADER.unpack_from(self.mm, 0)
        if magic != BLOCK_MAGIC:
            raise ValueError("not a sampler block ring")
        self.slot_bytes = 2 * self.frames * self.channels
        self.data_at = META_AT + SLOT_META.size * self.slots

    @staticmethod
    def size(slots: int, frames: int, channels: int) -> int:
        return META_AT + SLOT_META.size * slots + 2 * slots * frames * channels

    # the sampler's side
    def stop_requested(self) -> bool:
        return self.mm[20] != 0

    def released(self) -> int:
        return RELEASED.unpack_from(self.mm, RELEASED_AT)[0]

    def slot_offset(self, seq: int) -> int:
        """Byte offset of block ``seq``'s codes."""
        return self.data_at + (seq % self.slots) * self.slot_bytes

    def commit(self, seq: int, first_index: int, t_mono: float, frames: int, read_errors: int) -> None:
        SLOT_META.pack_into(self.mm, META_AT + (seq % self.slots) * SLOT_META.size,
                            first_index, t_mono, frames, read_errors)

    # the daemon's side
    def request_stop(self) -> None:
        self.mm[20] = 1

    def release(self, upto: int) -> None:
        RELEASED.pack_into(self.mm, RELEASED_AT, upto)

    def meta(self, seq: int) -> tuple[int, float, int, int]:
        return SLOT_META.unpack_from(self.mm, META_AT + (seq % self.slots) * SLOT_META.size)

    def close(self) -> None:
        try:
            self.mm.close()
        except BufferError:  # a view of a block is still alive: the mapping goes with it
            pass


class SignalFeed:
    """A ring of ``capacity`` frames: the daemon writes, the sampler reads."""

    def __init__(self, fd: int, *, create: tuple[int, int] | None = None):
        if create is not None:
            channels, capacity = create
            os.ftruncate(fd, FEED_DATA_AT + 2 * channels * capacity)
        self.fd = fd
        self.mm = mmap.mmap(fd, 0)
        if create is not None:
            FEED_HEADER.pack_into(self.mm, 0, FEED_MAGIC, channels, capacity)
        magic, self.channels, self.capacity = FEED_HEADER.unpack_from(self.mm, 0)
        if magic != FEED_MAGIC:
            raise ValueError("not a signal feed")

    def counts(self) -> tuple[int, int]:
        """(frames written, frames read)."""
        return FEED_COUNTS.unpack_from(self.mm, FEED_COUNTS_AT)

    def set_written(self, n: int) -> None:
        struct.pack_into("<Q", self.mm, FEED_COUNTS_AT, n)

    def set_read(self, n: int) -> None:
        struct.pack_into("<Q", self.mm, FEED_COUNTS_AT + 8, n)

    def ended(self) -> bool:
        return self.mm[FEED_ENDED_AT] != 0

    def end(self) -> None:
        self.mm[FEED_ENDED_AT] = 1

    def close(self) -> None:
        try:
            self.mm.close()
        except BufferError:
            pass
