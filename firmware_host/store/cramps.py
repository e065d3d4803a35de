"""The store's cramps (a mixin of :class:`~.db.Store`): however they were
logged (the button, the page, the morning diary), for the doctor's report
and the nights' lists (issue 13)."""
from __future__ import annotations

#: a night's cramps: those logged in it, and the diary's for its date (diary cramps have no night)
CRAMPS_OF_NIGHT = ("(SELECT count(*) FROM cramps c WHERE c.night_id = nights.id "
                   "OR (c.night_id IS NULL AND c.date = nights.date)) AS cramps")


class CrampFaces:
    def add_cramp(self, *, date: str, source: str, night_id: int | None = None, t: float | None = None,
                  at_utc: str | None = None, leg: str | None = None, severity: int | None = None) -> int:
        """One cramp (``source``: button, page or diary); ``t`` s from the night's start."""
        cur = self.db.execute("INSERT INTO cramps (date, night_id, t, at_utc, leg, severity, source) "
                              "VALUES (?,?,?,?,?,?,?)", (date, night_id, t, at_utc, leg, severity, source))
        return int(cur.lastrowid)

    def set_diary_cramps(self, date: str, count: int, leg: str | None, severity: int | None) -> None:
        """The morning diary's cramps for a date (replacing what it said before)."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM cramps WHERE date = ? AND source = 'diary'", (date,))
            db.executemany("INSERT INTO cramps (date, leg, severity, source) VALUES (?,?,?,'diary')",
                           [(date, leg, severity)] * count)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def cramps(self, *, night_id: int | None = None, date_from: str = "0000", date_to: str = "9999") -> list[dict]:
        """Cramps of a night (with its date's diary ones), or of evenings in
        [date_from, date_to]: id, date, night_id, t, at_utc, leg, severity, source."""
        if night_id is not None:
            rows = self.db.execute(
                "SELECT c.* FROM cramps c JOIN nights n ON n.id = ? WHERE c.night_id = n.id "
                "OR (c.night_id IS NULL AND c.date = n.date) ORDER BY c.t IS NULL, c.t, c.id", (night_id,))
        else:
            # a timed cramp belongs to its night's date (which a clock set late can move)
            rows = self.db.execute("SELECT c.id, coalesce(n.date, c.date) AS date, c.night_id, c.t, c.at_utc, "
                                   "c.leg, c.severity, c.source FROM cramps c LEFT JOIN nights n ON "
                                   "n.id = c.night_id WHERE coalesce(n.date, c.date) BETWEEN ? AND ? "
                                   "ORDER BY 2, c.t, c.id", (date_from, date_to))
        return [dict(r) for r in rows]
