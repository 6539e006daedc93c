"""Value parsing shared by the formats: hex digests, flags, categories, .NET dates, text lines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from tessera.hashing.algorithms import ALGORITHMS, hex_names
from tessera.records import FormatError

BOM = b"\xef\xbb\xbf"


#: Long enough for any real line (an ICSE row with a hex PhotoDNA is under 1 KiB); short enough
#: that a file without newlines cannot be pulled into memory as one "line".
MAX_LINE = 1 << 20

_HEX = re.compile(r"[0-9a-fA-F]+")
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})
_NONE = frozenset({"", "null", "none", "n/a", "na", "unknown"})
_NET_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[^0-9a-zA-Z]+")


def normalise_algorithm(name: str) -> str:
    """``SHA-1``, ``sha_256``, ``PhotoDNA`` -> ``sha1``, ``sha256``, ``photodna``."""
    return _NON_WORD.sub("", name).lower()


def hex_digest(value: Any, algorithm: str, where: str) -> str | None:
    """Lower-case hex of ``value``, None when empty; FormatError on a wrong length or non-hex."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise FormatError(f"{algorithm.upper()} value {value!r} is not a string", where)
    text = value.strip()
    if not text:
        return None
    alg = ALGORITHMS.get(algorithm)
    try:
        return alg.normalise(text)
    except ValueError:
        want = f"{alg.hex_length} hex digits ({len(text)} characters)"
        raise FormatError(f"{algorithm.upper()} value {_clip(text)!r} is not {want}", where) from None


def flag(value: Any, field: str, where: str) -> bool | None:
    """A boolean written as JSON true/false, "True"/"false", yes/no, y/n or 1/0; None when empty."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        if text in _NONE:
            return None
    raise FormatError(f"{field} value {_clip(str(value))!r} is not a boolean", where)


def category_value(value: Any, where: str) -> int | None:
    """The category exactly as given (never remapped); None for null or an empty cell."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise FormatError(f"category {value!r} is not an integer", where)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in _NONE:
            return None
        try:
            return int(text)
        except ValueError:
            pass
    raise FormatError(f"category {_clip(str(value))!r} is not an integer", where)


def int_or_none(value: str) -> int | str | None:
    """An integer cell as int; kept as text when it is not one (counts are informative only)."""
    text = value.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return text


def net_date(value: str) -> str | None:
    """``/Date(1262304000000+0100)/`` -> ``2010-01-01T00:00:00Z``; None when not a .NET date.

    The milliseconds count from the Unix epoch in UTC; the optional offset only records the writer's
    time zone, so it does not shift the instant.
    """
    m = _NET_DATE.fullmatch(value.strip())
    if not m:
        return None
    try:
        when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(m.group(1)))
    except OverflowError:
        return None
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += f".{when.microsecond // 1000:03d}"
    return text + "Z"


def snake(key: str) -> str:
    """``DateUpdated`` -> ``date_updated``, ``Case No.`` -> ``case_no``: one spelling in ``extra``."""
    return _NON_WORD.sub("_", _CAMEL.sub("_", key.strip())).strip("_").lower()


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def strip_bom(head: bytes) -> bytes:
    return head[len(BOM) :] if head.startswith(BOM) else head


def skip_bom(stream: BinaryIO) -> int:
    """Leave ``stream`` just past a UTF-8 BOM if it starts with one; return bytes skipped."""
    if not stream.seekable() and hasattr(stream, "peek"):
        if stream.peek(len(BOM))[: len(BOM)] == BOM:
            stream.read(len(BOM))
            return len(BOM)
        return 0
    start = stream.read(len(BOM))
    if start == BOM:
        return len(BOM)
    stream.seek(-len(start), 1)
    return 0


def text_lines(stream: BinaryIO, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """(line number, text) for each line, BOM removed, newline kept (``csv`` wants it).

    Lines are read one at a time with a cap, so neither a huge file nor one without newlines is
    held in memory; undecodable bytes are reported with their line number.
    """
    number = 0
    while True:
        raw = stream.readline(MAX_LINE + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE:
            raise FormatError(f"line longer than {MAX_LINE} bytes", f"line {number}")
        if number == 1:
            raw = strip_bom(raw)
        try:
            yield number, raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise FormatError(f"text is not valid {encoding}: {exc.reason}", f"line {number}") from None


def guess_encoding(head: bytes) -> str:
    """UTF-8 when the head decodes as UTF-8, else Windows-1252 (spreadsheet exports on Windows)."""
    body = strip_bom(head)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A head cut in the middle of a multi-byte character is still UTF-8.
        if not (exc.reason == "unexpected end of data" and exc.end == len(body)):
            return "cp1252"
    return "utf-8"


def first_line(head: bytes) -> str:
    """The first non-blank line of ``head`` as text (for sniffing); empty when there is none."""
    text = strip_bom(head).decode("utf-8", errors="replace")
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


def peek_head(stream: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes from the current position, leaving the position where it was."""
    if stream.seekable():
        pos = stream.tell()
        head = stream.read(size)
        stream.seek(pos)
        return head
    peek = getattr(stream, "peek", None)
    if peek is None:
        raise TypeError("hash-set streams must be seekable or offer peek() (wrap in io.BufferedReader)")
    return bytes(peek(size)[:size])


def check_algorithm(algorithm: str | None) -> str | None:
    """The normalised ``--algorithm`` for hex lists, FormatError when it names no hex algorithm."""
    if algorithm is None:
        return None
    alg = normalise_algorithm(algorithm)
    known = hex_names()
    if alg not in known:
        raise FormatError(f"unknown algorithm {algorithm!r} (expected one of {', '.join(known)})")
    return alg


def bare_digest(text: str, algorithm: str | None, where: str) -> tuple[str, str]:
    """(algorithm, lower-case hex) of a hash with no column name: from ``algorithm`` or the length.

    64 hex digits are either SHA-256 or PDQ and nothing in the value tells them apart, so that
    length is refused unless the caller names the algorithm.
    """
    if not _HEX.fullmatch(text):
        raise FormatError(f"{_clip(text)!r} is not a hex hash", where)
    if algorithm is None:
        algorithm = _by_length(text, where)
    digest = hex_digest(text, algorithm, where)
    if digest is None:
        raise FormatError("empty hash", where)
    return algorithm, digest


def _by_length(text: str, where: str) -> str:
    """The one hex algorithm with ``text``'s length; a length two algorithms share is refused."""
    same = [ALGORITHMS.get(a) for a in hex_names() if ALGORITHMS.get(a).hex_length == len(text)]
    if len(same) > 1:
        labels = " or ".join(a.label for a in same)
        names = " or ".join(a.name for a in same)
        raise FormatError(
            f"{len(text)} hex digits may be {labels}; give the algorithm (--algorithm {names})", where
        )
    if not same:
        lengths: dict[int | None, list[str]] = {}
        for a in (ALGORITHMS.get(n) for n in hex_names()):
            lengths.setdefault(a.hex_length, []).append(a.label)
        known = " or ".join(f"{v[0]} ({k})" for k, v in lengths.items() if len(v) == 1)
        raise FormatError(f"{len(text)} hex digits is not the length of a hash: {known}", where)
    return same[0].name
