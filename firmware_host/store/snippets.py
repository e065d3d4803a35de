"""The store's waveform snippets (a mixin of :class:`~.db.Store`):
each twitch's band-passed second, made once by the daemon
(:mod:`firmware_host.snippets`) and read by the page's gallery."""
from __future__ import annotations

from collections.abc import Iterable


class SnippetFaces:
    def add_snippets(self, night_id: int, rows: Iterable[tuple[int, float, int, bytes]]) -> None:
        """(recording id, t, channel, float32 bytes) per twitch; one already there is kept."""
        self.db.executemany("INSERT OR IGNORE INTO snippets (recording_id, night_id, t, channel, values_f32) "
                            "VALUES (?,?,?,?,?)", [(r, night_id, t, c, b) for r, t, c, b in rows])

    def snippets(self, night_id: int) -> dict[tuple[float, int], tuple[int, bytes]]:
        """(t, channel) -> (recording id, float32 bytes) for a night's stored waveforms."""
        rows = self.db.execute("SELECT t, channel, recording_id, values_f32 FROM snippets WHERE night_id = ?",
                               (night_id,))
        return {(r[0], r[1]): (r[2], bytes(r[3])) for r in rows}

    def mark_snippets_done(self, night_id: int, done_utc: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO snippet_nights (night_id, done_utc) VALUES (?, ?)",
                        (night_id, done_utc))

    def nights_without_snippets(self) -> list[int]:
        """Ended nights with raw recordings whose waveforms were never made (oldest first)."""
        rows = self.db.execute("SELECT id FROM nights WHERE status != 'recording' AND id NOT IN "
                               "(SELECT night_id FROM snippet_nights) AND id IN "
                               "(SELECT night_id FROM recordings WHERE finished = 1) ORDER BY id")
        return [r[0] for r in rows]
