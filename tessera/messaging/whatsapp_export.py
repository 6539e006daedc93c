"""WhatsApp "Export chat" text files (Android ``WhatsApp Chat with X.txt``, iOS ``_chat.txt``), in any
locale: native digits, time-first layouts, Japanese eras, Buddhist and Persian years, every day-half
word met so far.

The file is read whole (exports are small: WhatsApp caps them at tens of thousands of messages) because
the layout, date order and calendar can only be decided from all of its dates. Times are local without
a zone; they are read in ``ctx.local_tz`` (UTC when unset) and returned as aware UTC datetimes.

Every line is accounted for in ``ctx.coverage`` (unit ``lines``): parsed (a message's header or one of
its continuation lines), ignored (blank lines outside a message's text) or skipped (a dated line whose
date cannot be read, with its continuation lines; text before the first message; a cut-off header).
Unit ``messages`` counts the dated header lines against the messages returned.
See ``docs/messaging-whatsapp-export.md`` for the rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from tessera.evidence import open_item
from tessera.messaging import whatsapp_export_patterns as pat
from tessera.messaging.base import PARSERS, ParseContext
from tessera.messaging.records import MessagingRecord, ParseError
from tessera.messaging.signal_export import is_signal
from tessera.messaging.whatsapp_export_build import PLATFORM, Builder, Entry, looks_like_phone

__all__ = ["PLATFORM", "WhatsAppExportParser", "chat_title", "looks_like_phone"]

#: A file with no dated line among its first this-many non-empty lines is not an export.
HEAD_LINES = 50
#: Larger than any real export's text; a guard against reading a disk image as a chat.
MAX_BYTES = 512 * 1024 * 1024
#: Names WhatsApp gives an export (Android ``.txt`` and ``.zip``, iOS ``.zip``), per locale.
NAME_PREFIXES = (
    "WhatsApp Chat with ",
    "WhatsApp Chat - ",
    "Chat de WhatsApp con ",
    "Chat de WhatsApp - ",
    "Conversa do WhatsApp com ",
    "Conversa do WhatsApp - ",
    "WhatsApp Chat mit ",
    "Discussion WhatsApp avec ",
    "Chat WhatsApp con ",
    "WhatsApp-chat met ",
    "Чат WhatsApp с ",
    "WhatsApp Sohbeti: ",
    "Chat WhatsApp dengan ",
    "Đoạn chat WhatsApp với ",
    "دردشة WhatsApp مع ",
)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # not str.splitlines: U+2028 and friends are message content
BLANK, BEFORE_FIRST, CUT_HEADER = (
    "blank line",
    "text before the first dated line",
    "cut-off header at the end",
)
UNREADABLE, ORPHAN = "dated line whose date or time cannot be read", "continuation of a line skipped"


def chat_title(locator: str) -> str | None:
    """The chat's title from the export's name: ``WhatsApp Chat with Group 01.txt`` -> ``Group 01``;
    for iOS ``_chat.txt`` the enclosing zip or folder (``WhatsApp Chat - Group 01.zip``). A copy suffix
    a download added (``... (1).txt``) is dropped. None when the name is not one WhatsApp writes.
    A hint only: the content decides whether a file is an export."""
    parts = [p for p in re.split(r"[/!]", locator) if p]
    if not parts:
        return None
    name = parts[-1]
    if name.lower() == "_chat.txt":
        if len(parts) < 2:
            return None
        name = re.sub(r"\.zip$", "", parts[-2], flags=re.IGNORECASE)
    else:
        name = re.sub(r"\.txt$", "", name, flags=re.IGNORECASE)
    name = re.sub(r" \(\d+\)$", "", name)
    for prefix in NAME_PREFIXES:
        if name.lower().startswith(prefix.lower()) and len(name) > len(prefix):
            return name[len(prefix) :].strip()
    return None


def _decode(data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", errors="replace")
    # A cut multi-byte character (truncated file) or stray bytes must not lose the rest of the chat.
    return data.decode("utf-8", errors="replace")


def _header(line: str, layout: str | None) -> tuple[str, re.Match[str], str] | None:
    """(layout, match on the normalised line, the line without marks) for a dated header line."""
    clean = pat.strip_marks(line)
    norm = pat.normalise(clean)
    lead = len(norm) - len(norm.lstrip())
    for name in (layout,) if layout else pat.LAYOUTS:
        m = pat.LAYOUTS[name].fullmatch(norm, lead)
        if m:
            return name, m, clean
    return None


def _message_like(line: str) -> bool:
    """A date and a time, then ``Name: text`` within a few characters: how every chat export's
    lines look, whatever their layout. Log files look alike but name a level instead of a person."""
    m = pat.LOOSE_HEADER.match(line)
    return bool(m and _AFTER_STAMP.match(line, m.end()) and not _LOG_LEVEL.search(line))


_AFTER_STAMP = re.compile(r"[^\w\n]{0,6}\w{0,3}[^\w\n]{0,4}[^:\n]{1,60}?:\s")
_LOG_LEVEL = re.compile(r"\b(?:INFO|DEBUG|WARN(?:ING)?|ERROR|TRACE|FATAL|CRITICAL|NOTICE)\b")


def _looks_like_export(lines: list[str], locator: str) -> bool:
    """Dated lines of a layout this parser does not know: most of the head when the name says nothing,
    one when WhatsApp named the file (the name is a hint, never enough alone)."""
    head = [pat.normalise(pat.strip_marks(ln)).lstrip() for ln in lines if ln.strip()][:20]
    base = re.split(r"[/!]", locator)[-1].lower()
    if base == "_chat.txt" or "whatsapp" in base:
        return any(pat.LOOSE_HEADER.match(ln) for ln in head)
    hits = sum(_message_like(ln) for ln in head)
    return hits >= 2 and hits * 2 >= len(head)


class WhatsAppExportParser:
    name: ClassVar[str] = "whatsapp-export"
    #: Any text file: an export is recognised by its content, whatever it was renamed to.
    patterns: ClassVar[tuple[str, ...]] = ("*.txt",)
    companions: ClassVar[tuple[str, ...]] = ()
    #: Attachments lie beside the text file (in the same folder or zip).
    media_roots: ClassVar[tuple[str, ...]] = (".",)

    def detect(self, locator: str, head: bytes) -> bool:
        base = re.split(r"[/!]", locator)[-1].lower()
        if not base.endswith(".txt"):
            return False
        lines = [ln for ln in _LINE_BREAK.split(_decode(head[:8192])) if ln.strip()]
        if is_signal(lines[:20]):
            return False  # a Signal export, even named as WhatsApp names its own: signal_export's
        if base == "_chat.txt":
            return True
        return any(_header(ln, None) for ln in lines[:20]) or _looks_like_export(lines, locator)

    def parse(self, ctx: ParseContext) -> Iterator[MessagingRecord]:
        with open_item(ctx.opener) as fh:
            data = fh.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise ParseError(f"not a WhatsApp chat export: {ctx.locator}: larger than {MAX_BYTES} bytes")
        lines = _LINE_BREAK.split(_decode(data))
        ends_cleanly = bool(lines) and lines[-1] == ""
        if ends_cleanly:
            lines.pop()
        if not any(ln.strip() for ln in lines):
            raise ParseError(f"not a WhatsApp chat export: {ctx.locator}: empty file")
        entries = _Reader(ctx, lines).read(ends_cleanly)
        if entries:
            yield from Builder(ctx, entries, chat_title(ctx.locator)).records()


def _option(ctx: ParseContext, key: str, allowed: tuple[str, ...], upper: bool) -> str | None:
    raw = ctx.options.get(key)
    if not raw:
        return None
    value = re.sub(r"[^A-Z]", "", raw.upper()) if upper else raw.strip().lower()
    if value not in allowed:
        raise ParseError(f"{ctx.locator}: {key} option {raw!r} is not one of {', '.join(allowed)}")
    return value


class _Reader:
    """Splits the lines into messages and accounts for every line in the coverage."""

    def __init__(self, ctx: ParseContext, lines: list[str]) -> None:
        self.ctx = ctx
        self.lines = lines
        self.cov = ctx.coverage
        self.cov.holds("lines", len(lines))

    def loc(self, i: int) -> str:
        return f"{self.ctx.locator}#L{i + 1}"

    def layout(self) -> str | None:
        seen = 0
        for line in self.lines:
            if line.strip():
                seen += 1
                if seen > HEAD_LINES:
                    return None
            found = _header(line, None)
            if found:
                return found[0]
        return None

    def fail(self, reason: str) -> list[Entry]:
        """A text that looks like an export in a layout not known: claimed, every line skipped."""
        for i, line in enumerate(self.lines):
            if line.strip():
                self.cov.skip("lines", reason, self.loc(i))
            else:
                self.cov.ignore("lines", BLANK, self.loc(i))
        return []

    def read(self, ends_cleanly: bool) -> list[Entry]:
        ctx, lines = self.ctx, self.lines
        layout = self.layout()
        if layout is None:
            sample = next(
                (ln.strip() for ln in lines if pat.LOOSE_HEADER.match(pat.normalise(ln.strip()))), ""
            )
            if _looks_like_export(lines, ctx.locator):
                return self.fail(f"unknown layout: {sample[:60] or lines[0].strip()[:60]!r}")
            raise ParseError(
                f"not a WhatsApp chat export: {ctx.locator}: "
                f"no dated message line in the first {HEAD_LINES} lines"
            )
        if is_signal([ln for ln in lines if ln.strip()][:20]):
            raise ParseError(
                f"not a WhatsApp chat export: {ctx.locator}: a Signal Desktop export (signal-export)"
            )
        found: dict[int, tuple[re.Match[str], str]] = {}
        for i, line in enumerate(lines):
            h = _header(line, layout)
            if h:
                found[i] = (h[1], h[2])
        self.cov.holds("messages", len(found))
        dates = {i: pat.read_date(m["date"]) for i, (m, _) in found.items()}
        known = [d for d in dates.values() if d is not None]
        calendar_opt = _option(ctx, "calendar", pat.CALENDARS, upper=False)
        default = "YMD" if calendar_opt == "japanese" else "DMY"
        order, decided_by = pat.decide_order(known, _option(ctx, "date_order", pat.ORDERS, True), default)
        calendar, cal_by = pat.decide_calendar(known, order, calendar_opt, datetime.now(UTC).year)
        self.notes(layout, order, decided_by, calendar, cal_by, known)
        tz = ctx.local_tz or UTC
        entries: list[Entry] = []
        current: Entry | None = None
        orphan = False  # continuation lines of a skipped header are skipped with it
        for i, line in enumerate(lines):
            hit = found.get(i)
            d = dates.get(i)
            when = _when(hit[0], d, order, calendar) if hit and d else None
            if hit and when is None:
                self.cov.skip("lines", UNREADABLE, self.loc(i))
                self.cov.skip("messages", UNREADABLE, self.loc(i))
                current, orphan = None, True
                continue
            if hit and when is not None:
                m, clean = hit
                raw: dict[str, Any] = {"style": layout.split("-")[0], "date_order": order}
                # The date and time as written (native digits, era, day-half word): the raw value.
                raw["stamp"] = clean[m.start() : m.start("body")].strip(" -\u2013[]")
                if layout.endswith("time-first"):
                    raw["layout"] = layout
                if decided_by != "file":
                    raw["date_order_ambiguous"] = decided_by  # "option" or "default": days never exceed 12
                if calendar != "gregorian":
                    raw["calendar"] = calendar
                time = when.replace(tzinfo=tz).astimezone(UTC)
                current = Entry(i + 1, line, layout, clean[m.start("body") :], m.start("body"), time, raw=raw)
                entries.append(current)
                orphan = False
            elif current is not None:
                current.more.append(pat.strip_marks(line))
            elif orphan:
                if line.strip():
                    self.cov.skip("lines", ORPHAN, self.loc(i))
                else:
                    self.cov.ignore("lines", BLANK, self.loc(i))
            elif line.strip():
                self.cov.skip("lines", BEFORE_FIRST, self.loc(i))
            else:
                self.cov.ignore("lines", BLANK, self.loc(i))
        if entries and not ends_cleanly:
            self.mark_truncated(entries[-1])
        for e in entries:
            self.account_lines(e)
        return entries

    def notes(self, layout: str, order: str, by: str, calendar: str, cal_by: str, dates: list[Any]) -> None:
        self.cov.note(f"layout: {layout}")
        self.cov.note(f"date order: {order} ({by})")
        if calendar != "gregorian":
            self.cov.note(f"calendar: {calendar} ({cal_by})")
        if calendar != "gregorian":
            return
        years = [pat.gregorian_year(d, order, calendar) for d in dates]
        if None in years:
            self.cov.note("Islamic (Hijri) calendar years are not converted: their lines are skipped")
        if any(y is not None and y < pat.WHATSAPP_YEAR for y in years):
            self.cov.note(
                f"years before {pat.WHATSAPP_YEAR} (WhatsApp's release): if the phone showed Japanese era "
                "years, parse again with the option calendar=japanese"
            )

    def mark_truncated(self, last: Entry) -> None:
        """The file ends without a line break, so its last line may be cut. A cut header (``01/03/2``)
        would otherwise be appended to the previous message as text; it is moved to raw instead."""
        last.raw["truncated"] = True
        n = len(self.lines)
        if last.more and last.line_no + len(last.more) == n:
            tail = last.more[-1]
            if pat.HEADER_START.match(pat.normalise(tail).lstrip()):
                last.raw["truncated_tail"] = last.more.pop()
                self.cov.skip("lines", CUT_HEADER, self.loc(n - 1))

    def account_lines(self, e: Entry) -> None:
        """Header and text lines are parsed; blank lines after a message's text are not part of it
        (WhatsApp trims what is sent), so they are ignored."""
        trailing = 0
        while e.more and not e.more[-1].strip():
            e.more.pop()
            trailing += 1
        self.cov.parsed("lines", 1 + len(e.more))
        for k in range(trailing):
            self.cov.ignore("lines", BLANK, self.loc(e.line_no + len(e.more) + k))


def _when(m: re.Match[str], d: pat.DateText, order: str, calendar: str) -> datetime | None:
    day = pat.make_date(d, order, calendar)
    hour, minute, second = int(m["hour"]), int(m["minute"]), int(m["second"] or 0)
    half = m["ampm"] or m["pre"]
    if half:
        pm = pat.is_pm(half)
        # Some locales count a 12-hour clock 0-11 ("00:08 a. m."), others 1-12.
        if pm is None or hour > 12:
            return None
        hour = hour % 12 + (12 if pm else 0)
    if day is None or hour > 23 or minute > 59 or second > 59:
        return None
    return datetime(day.year, day.month, day.day, hour, minute, second)


PARSERS.register(WhatsAppExportParser.name)(WhatsAppExportParser())
