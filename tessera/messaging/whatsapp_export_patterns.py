"""What the header of a line of a WhatsApp "Export chat" looks like, in every layout and locale met so
far: the date (any order, native digits, Japanese eras, Buddhist and Persian years), the time (12- or
24-hour, with the locale's day-half words before or after it) and the bracket or dash around them.

Kept apart from the parser so the tables can grow without touching the parsing logic. Attachment
markers live in ``whatsapp_export_markers``, system notices in ``whatsapp_export_system``. Every
pattern is matched against text whose invisible direction marks were already removed
(:func:`strip_marks`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

# Direction marks WhatsApp scatters around numbers, names and markers (LRM, RLM, embeddings,
# overrides, isolates) and the BOM / zero-width no-break space: none of them is content.
MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
MARK_SET = frozenset(MARKS)
_MARK_TABLE = dict.fromkeys(map(ord, MARKS))


def strip_marks(text: str) -> str:
    return text.translate(_MARK_TABLE)


def mark_before(raw: str, clean_pos: int) -> bool:
    """Whether, in ``raw``, a direction mark stands right before the character found at ``clean_pos``
    of ``strip_marks(raw)``. iOS puts a left-to-right mark before every text it generated itself
    (system notices, markers), which is how a notice is told from the same words typed by a person."""
    n = 0
    prev_mark = False
    for ch in raw:
        if ch in MARK_SET:
            prev_mark = True
            continue
        if n == clean_pos:
            return prev_mark
        prev_mark = False
        n += 1
    return prev_mark


# --- line headers ------------------------------------------------------------------------------

# Arabic-Indic and Persian digits and the Arabic comma become ASCII, one character for one, so match
# positions in the translated line are positions in the line as written.
_NATIVE = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹،", "01234567890123456789,")


def normalise(clean: str) -> str:
    """The line as the header patterns read it: ASCII digits and commas (``clean`` has no marks)."""
    return clean.translate(_NATIVE)


_ERA = r"(?:R|H|令和|平成)"
_FIELD = rf"(?:{_ERA}\s?)?\d{{1,4}}"
_KANJI = r"(?:令和|平成)?(?:\d{1,4}|元)年\s?\d{1,2}月\s?\d{1,2}日"
_BE = r"(?:\s?(?:BE|B\.E\.|พ\.ศ\.))"
_DATE = rf"(?P<date>{_FIELD}[./-]\s?{_FIELD}[./-]\s?{_FIELD}\.?{_BE}?|{_KANJI})"
#: Day-half words written before the time (Chinese, Japanese, Korean, Hungarian) ...
_PRE = r"午前|午後|上午|下午|오전|오후|de\.|du\."
#: ... and after it: ``AM``, ``a.m.``, Spanish ``a. m.`` (inner space often a no-break space), German
#: ``vorm.``/``nachm.``, Vietnamese ``SA``/``CH``, Arabic ``ص``/``م``, Greek, Persian.
_POST = (
    r"[AaPp]\.?\s?[Mm]\.?|vorm\.|nachm\.|SA|CH|ص|م|午前|午後|π\.?\s?μ\.?|μ\.?\s?μ\.?|"
    r"ق\.?\s?ظ\.?|ب\.?\s?ظ\.?"
)
_CLOCK = (
    rf"(?:(?P<pre>{_PRE})\s?)?(?P<hour>\d{{1,2}})[:.](?P<minute>\d{{2}})(?:[:.](?P<second>\d{{2}}))?\.?"
    rf"(?:\s?(?P<ampm>{_POST}))?"
)
_SEP = r"(?:\s*,\s*|\s+)(?:klo\s+)?"  # Finnish iOS writes "12.3.2022 klo 14.08.18"
_DATE_FIRST = rf"{_DATE}{_SEP}{_CLOCK}"
_TIME_FIRST = rf"{_CLOCK}{_SEP}{_DATE}"
#: Every header layout, tried in this order on a file's first dated line; the file keeps that layout
#: (a quoted "[date] ..." inside an Android message then never starts a message).
LAYOUTS: dict[str, re.Pattern[str]] = {
    # iOS: ``[01/03/2024, 10:00:00] Name: text``
    "ios": re.compile(rf"\[{_DATE_FIRST}\]\s?(?P<body>.*)", re.DOTALL),
    # Android: ``01/03/2024, 10:00 - Name: text`` (some locales drop the comma)
    "android": re.compile(rf"{_DATE_FIRST}\s[-\u2013]\s?(?P<body>.*)", re.DOTALL),
    # Vietnamese and a few others put the time first: ``14:05, 12/03/2023 - Name: text``
    "ios-time-first": re.compile(rf"\[{_TIME_FIRST}\]\s?(?P<body>.*)", re.DOTALL),
    "android-time-first": re.compile(rf"{_TIME_FIRST}\s[-\u2013]\s?(?P<body>.*)", re.DOTALL),
}
#: What a cut-off header (the last line of a truncated file) still starts with.
HEADER_START = re.compile(r"\[?\d{1,4}[./:-]")
#: Looser than any layout: a date and a time at the start of a line. Enough to say a text *looks*
#: like an export whose layout is not known, so it is claimed and reported failed, not ignored.
LOOSE_HEADER = re.compile(
    r"\[?\(?(?:\d{1,4}|[^\W\d_]{1,3}\d{1,2})\s?[./\-年]\s?\d{1,2}\s?[./\-月]\s?\d{1,4}.{0,25}?\d{1,2}[:.h]\d{2}"
    r"|\[?\(?\d{1,2}[:.]\d{2}.{0,15}?\d{1,4}[./-]\d{1,2}[./-]\d{1,4}"
)
#: signal-export (Signal Desktop to Markdown) writes ``[2019-12-24, 12:23] Jane Doe: text``: an ISO
#: date, a comma and no seconds, a combination no WhatsApp export writes in brackets.
SIGNAL_HEADER = re.compile(r"\[\d{4}-\d{2}-\d{2}, \d{2}:\d{2}\] ")
#: Its other tell-tales: Markdown links to attachments and ``(- Name: emoji -)`` reactions.
SIGNAL_MARKERS = re.compile(r"!?\[[^\]\n]*\]\(\./|^\(- .+ -\)$", re.MULTILINE)

_AM = frozenset({"am", "vorm", "sa", "ص", "午前", "上午", "오전", "πμ", "قظ", "de"})
_PM = frozenset({"pm", "nachm", "ch", "م", "午後", "下午", "오후", "μμ", "بظ", "du"})


def is_pm(token: str) -> bool | None:
    """True for an afternoon marker, False for a morning one, None when the word is unknown."""
    key = re.sub(r"[.\s]", "", token).lower()
    return True if key in _PM else False if key in _AM else None


# --- dates and calendars -------------------------------------------------------------------------

ORDERS = ("DMY", "MDY", "YMD")
CALENDARS = ("gregorian", "buddhist", "japanese", "persian")
_ERA_START = {"R": 2018, "令和": 2018, "H": 1988, "平成": 1988}  # era year 1 = 2019 (Reiwa), 1989 (Heisei)
#: WhatsApp's first release: a year before it cannot be a Gregorian message date.
WHATSAPP_YEAR = 2009


@dataclass(frozen=True, slots=True)
class DateText:
    """A header's date as written: three numbers, how many digits each had, and calendar marks."""

    fields: tuple[int, int, int]
    widths: tuple[int, int, int]
    era: str | None = None  # Japanese era on the year field ("R" Reiwa, "H" Heisei)
    era_at: int | None = None  # which field carries it
    buddhist: bool = False  # "BE" / "พ.ศ." written after the date


_KANJI_PARTS = re.compile(r"(令和|平成)?(\d{1,4}|元)年\s?(\d{1,2})月\s?(\d{1,2})日")
_FIELD_PARTS = re.compile(rf"({_ERA})?\s?(\d{{1,4}})")


def read_date(text: str) -> DateText | None:
    m = _KANJI_PARTS.fullmatch(text)
    if m:
        era = m[1]
        year = 1 if m[2] == "元" else int(m[2])  # 元年: the first year of an era
        return DateText((year, int(m[3]), int(m[4])), (len(m[2]), 2, 2), era, 0 if era else None)
    buddhist = bool(re.search(_BE + "$", text))
    core = re.sub(_BE + "$", "", text).rstrip(".")
    parts = re.split(r"[./-]\s?", core)
    if len(parts) != 3:
        return None
    nums: list[int] = []
    widths: list[int] = []
    era, era_at = None, None
    for i, part in enumerate(parts):
        fm = _FIELD_PARTS.fullmatch(part)
        if not fm:
            return None
        if fm[1]:
            era, era_at = fm[1], i
        nums.append(int(fm[2]))
        widths.append(len(fm[2]))
    return DateText((nums[0], nums[1], nums[2]), (widths[0], widths[1], widths[2]), era, era_at, buddhist)


def decide_order(dates: list[DateText], hint: str | None, default: str = "DMY") -> tuple[str, str]:
    """(order, how it was decided: "file" | "option" | "default") for all dates of one file.

    A four-digit or era-marked first field means year first. Otherwise a first field above 12 proves
    day first and a second field above 12 proves month first; when neither occurs the order cannot be
    read from the file, and the locale hint (or ``default``: day first, the most common order
    worldwide) is used.
    """
    year_first = sum(d.widths[0] == 4 or d.era_at == 0 for d in dates)
    if dates and year_first * 2 > len(dates):
        return "YMD", "file"
    rest = [d for d in dates if d.widths[0] <= 2 and d.era_at != 0]
    day_first = sum(d.fields[0] > 12 for d in rest)
    month_first = sum(d.fields[1] > 12 for d in rest)
    if day_first or month_first:
        # Both seen means a mixed or corrupt file; the order with more proof wins, and lines
        # impossible under it are counted skipped.
        return ("DMY" if day_first >= month_first else "MDY"), "file"
    if hint:
        return hint, "option"
    return default, "default"


def _year_field(d: DateText, order: str) -> tuple[int, int]:
    i = 0 if order == "YMD" else 2
    return d.fields[i], d.widths[i]


def decide_calendar(dates: list[DateText], order: str, option: str | None, this_year: int) -> tuple[str, str]:
    """(calendar, how: "option" | "file" | "inferred") for all dates of one file.

    Era marks mean the Japanese calendar, "BE" or a year above 2400 the Thai Buddhist one, a four-digit
    year 1300-1424 the Persian (Solar Hijri) one. Two-digit years that would be in the future as
    Gregorian years but fit the Buddhist era (Thai phones write ``14/12/66`` for 2023) are read as
    Buddhist, and say so ("inferred").
    """
    if option:
        return option, "option"
    if any(d.era for d in dates):
        return "japanese", "file"
    years = [_year_field(d, order) for d in dates]
    if any(d.buddhist for d in dates) or any(w == 4 and y >= 2400 for y, w in years):
        return "buddhist", "file"
    if any(w == 4 and 1300 <= y < 1425 for y, w in years):
        return "persian", "file"
    short = [y for y, w in years if w <= 2]
    if short and all(2000 + y > this_year + 1 and WHATSAPP_YEAR <= 1957 + y <= this_year + 1 for y in short):
        return "buddhist", "inferred"
    return "gregorian", "file"


def gregorian_year(d: DateText, order: str, calendar: str) -> int | None:
    y, width = _year_field(d, order)
    if d.era:
        return _ERA_START[d.era] + y
    if calendar == "japanese" and width <= 2:
        # Without an era mark: Reiwa years are 1-20 for decades to come, Heisei years of WhatsApp's
        # time 21-31, so the number alone tells the era.
        return (2018 if y <= 20 else 1988) + y
    if calendar == "buddhist":
        return y - 543 if width == 4 else 2500 + y - 543
    if width <= 2:
        return 2000 + y  # WhatsApp is younger than 2000
    if width == 4 and 1425 <= y < 1500:
        return None  # an Islamic (Hijri) year: lunar, not converted (see docs)
    return y


def make_date(d: DateText, order: str, calendar: str = "gregorian") -> date | None:
    if order == "YMD":
        _, mo, day = d.fields
    elif order == "MDY":
        mo, day, _ = d.fields
    else:
        day, mo, _ = d.fields
    if calendar == "persian":
        return persian_to_gregorian(_year_field(d, order)[0], mo, day)
    year = gregorian_year(d, order, calendar)
    if year is None:
        return None
    try:
        return date(year, mo, day)
    except ValueError:
        return None


def _farvardin_first(jy: int) -> date:
    """1 Farvardin of Solar Hijri year ``jy`` (the jalaali algorithm of Borkowski, exact for the
    years any phone shows)."""
    breaks = (-61, 9, 38, 199, 426, 686, 756, 818, 1111, 1181, 1210, 1635, 2060, 2097, 2192, 2262, 2324, 2394)
    gy = jy + 621
    leap_j = -14
    jp = breaks[0]
    jump = 0
    for jm in breaks[1:]:
        jump = jm - jp
        if jy < jm:
            break
        leap_j += jump // 33 * 8 + (jump % 33) // 4
        jp = jm
    n = jy - jp
    leap_j += n // 33 * 8 + ((n % 33) + 3) // 4
    if jump % 33 == 4 and jump - n == 4:
        leap_j += 1
    leap_g = gy // 4 - ((gy // 100 + 1) * 3) // 4 - 150
    return date(gy, 3, 20 + leap_j - leap_g)


def persian_to_gregorian(jy: int, jm: int, jd: int) -> date | None:
    if not (1 <= jm <= 12 and 1 <= jd <= (31 if jm <= 6 else 30)):
        return None
    start = _farvardin_first(jy)
    offset = (jm - 1) * 31 - max(0, jm - 7) + jd - 1  # six months of 31 days, then 30
    if start.toordinal() + offset >= _farvardin_first(jy + 1).toordinal():
        return None  # 30 Esfand of a common year
    return date.fromordinal(start.toordinal() + offset)
