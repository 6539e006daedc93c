"""Reconciliation of a messaging source: what it holds against what its parse yielded.

Every parser fills the :class:`Coverage` it finds on its ``ParseContext``: for each *unit* of its
format (a database table such as ``messages``, the ``lines`` of a chat export, the ``messages`` of a
JSON export) how many the source holds, how many were parsed, how many are not evidence at all
(``ignore``: WhatsApp's own sentinel and placeholder rows, blank lines) and how many hold evidence
that could not be read (``skip``), each counted by reason with the first few locators. Any unit whose
counts do not add up is reported as unaccounted, so no source is ever "complete" with rows nobody
explained.

The record is stored as JSON on ``messaging_source.coverage`` (format ``tessera-coverage``, version 1,
docs/storage.md) and printed by ``tessera ingest`` and ``tessera sources``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FORMAT = "tessera-coverage"
VERSION = 1
#: Locators kept per reason: enough for an examiner to open the first cases, bounded for huge sources.
EXAMPLES = 5

COMPLETE, PARTIAL, FAILED, NOT_PARSED = "complete", "partial", "failed", "not parsed"
#: Statuses that make ``tessera ingest`` exit 1.
INCOMPLETE = frozenset({PARTIAL, FAILED})


@dataclass
class UnitCount:
    present: int | None = None  # None: the parser could not count what the source holds
    parsed: int = 0
    ignored: int = 0
    skipped: int = 0

    def unaccounted(self) -> int:
        if self.present is None:
            return 0
        return self.present - self.parsed - self.ignored - self.skipped


@dataclass
class Reason:
    unit: str
    reason: str
    kind: str  # "ignored" (not evidence) | "skipped" (evidence not read)
    count: int = 0
    examples: list[str] = field(default_factory=list)


class Coverage:
    """Counts per unit and reasons for what was not parsed. Cheap enough to call once per row."""

    def __init__(self) -> None:
        self.units: dict[str, UnitCount] = {}
        self.reasons: dict[tuple[str, str, str], Reason] = {}
        #: Free-text facts for the examiner ("schema: legacy and current (migration era)").
        self.notes: list[str] = []

    def _unit(self, unit: str) -> UnitCount:
        u = self.units.get(unit)
        if u is None:
            u = self.units[unit] = UnitCount()
        return u

    def holds(self, unit: str, n: int) -> None:
        """The source holds ``n`` of ``unit`` (counted independently of the parse: ``COUNT(*)``)."""
        u = self._unit(unit)
        u.present = (u.present or 0) + n

    def parsed(self, unit: str, n: int = 1) -> None:
        self._unit(unit).parsed += n

    def ignore(self, unit: str, reason: str, locator: str | None = None, n: int = 1) -> None:
        """``n`` of ``unit`` are not evidence (an app's placeholder row, a blank line)."""
        self._unit(unit).ignored += n
        self._reason(unit, reason, "ignored", locator, n)

    def skip(self, unit: str, reason: str, locator: str | None = None, n: int = 1) -> None:
        """``n`` of ``unit`` hold evidence that could not be read: the source becomes partial."""
        self._unit(unit).skipped += n
        self._reason(unit, reason, "skipped", locator, n)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def _reason(self, unit: str, reason: str, kind: str, locator: str | None, n: int) -> None:
        key = (unit, reason, kind)
        r = self.reasons.get(key)
        if r is None:
            r = self.reasons[key] = Reason(unit, reason, kind)
        r.count += n
        if locator is not None and len(r.examples) < EXAMPLES:
            r.examples.append(locator)

    # --- judgement -------------------------------------------------------------------------------

    def unaccounted(self) -> dict[str, int]:
        return {name: u.unaccounted() for name, u in self.units.items() if u.unaccounted()}

    @property
    def parsed_total(self) -> int:
        return sum(u.parsed for u in self.units.values())

    @property
    def skipped_total(self) -> int:
        return sum(u.skipped for u in self.units.values())

    def content(self) -> int:
        """What the source holds that is evidence (present less ignored), where it was counted."""
        return sum(max(0, (u.present or 0) - u.ignored) for u in self.units.values())

    def status(self) -> str:
        """``failed``: content and nothing of it parsed; ``partial``: something skipped or
        unaccounted; else ``complete`` (an empty source is complete: it holds nothing)."""
        if self.parsed_total == 0 and (self.content() > 0 or self.skipped_total > 0):
            return FAILED
        if self.skipped_total or self.unaccounted():
            return PARTIAL
        return COMPLETE

    def problem(self) -> str | None:
        """One line naming why the source is not complete, or None."""
        parts = []
        for r in self.reasons.values():
            if r.kind == "skipped":
                parts.append(f"{r.count} {r.unit} skipped: {r.reason}")
        for unit, n in self.unaccounted().items():
            u = self.units[unit]
            parts.append(
                f"{unit}: {n} of {u.present} not accounted for"
                if n > 0
                else f"{unit}: {-n} more parsed than the source holds ({u.present})"
            )
        if not parts and self.status() == FAILED:
            parts.append("nothing parsed")
        return "; ".join(parts) or None

    def summary(self) -> str:
        """``messages 74/74 (1 ignored: WhatsApp sentinel row); lines 20/21 (1 skipped: ...)``."""
        out = []
        for name, u in self.units.items():
            held = "?" if u.present is None else str(u.present)
            bits = [f"{name} {u.parsed}/{held}"]
            extra = [f"{r.count} {r.kind}: {r.reason}" for r in self.reasons.values() if r.unit == name]
            if u.unaccounted():
                extra.append(f"{u.unaccounted()} unaccounted")
            if extra:
                bits.append("(" + "; ".join(extra) + ")")
            out.append(" ".join(bits))
        return "; ".join(out)

    # --- persistence -----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "units": {
                name: {
                    "present": u.present,
                    "parsed": u.parsed,
                    "ignored": u.ignored,
                    "skipped": u.skipped,
                    "unaccounted": u.unaccounted(),
                }
                for name, u in self.units.items()
            },
            "reasons": [
                {"unit": r.unit, "reason": r.reason, "kind": r.kind, "count": r.count, "examples": r.examples}
                for r in self.reasons.values()
            ],
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Coverage:
        cov = cls()
        if not data:
            return cov
        if data.get("format") != FORMAT or int(data.get("version", 0)) > VERSION:
            raise ValueError(f"not a {FORMAT} record of version <= {VERSION}")
        for name, u in (data.get("units") or {}).items():
            cov.units[name] = UnitCount(u.get("present"), u["parsed"], u["ignored"], u["skipped"])
        for r in data.get("reasons") or []:
            cov.reasons[(r["unit"], r["reason"], r["kind"])] = Reason(
                r["unit"], r["reason"], r["kind"], r["count"], list(r.get("examples") or [])
            )
        cov.notes = list(data.get("notes") or [])
        return cov
