"""Delimited text hash sets: Interpol ICSE CSV exports and headed CSV files.

Both are a header row naming columns (matched case-insensitively, in any order) followed by one row
per media item. Each row gives one entry per hash column that has a value; the entries of a row share
a ``media_key``. Rows are read one line at a time, so file size does not bound memory.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from typing import Any, BinaryIO, ClassVar

from tessera.hashing.algorithms import column_names
from tessera.hashsets._common import (
    bare_digest,
    category_value,
    check_algorithm,
    first_line,
    flag,
    guess_encoding,
    hex_digest,
    int_or_none,
    normalise_algorithm,
    peek_head,
    snake,
    text_lines,
)
from tessera.hashsets.base import FORMATS, SNIFF_BYTES
from tessera.records import FormatError, HashEntryRecord, HashSetInfo

#: A column's role: ("hash", alg) | ("bare_hash", "") | ("category" | "series" | "victim" | "key", "")
#: | ("flag" | "int" | "text", extra name).
Role = tuple[str, str]

_SPACES = re.compile(r"\s+")
_CSV_DELIMITERS = (",", ";", "\t", "|")

#: ICSE export columns (lower case, single spaces) and what they become.
_ICSE: dict[str, Role] = {
    **{column.lower(): ("hash", alg) for alg, column in column_names("icse").items()},
    "image id": ("key", ""),
    "is distributed": ("flag", "is_distributed"),
    "victim identified": ("victim", ""),
    "offender identified": ("flag", "offender_identified"),
    "series name": ("series", ""),
    "number of submissions": ("int", "number_of_submissions"),
    "file available": ("flag", "file_available"),
    "media type": ("text", "media_type"),
    "baseline": ("flag", "baseline"),
}
_ICSE_MARKERS = frozenset({"photodna", "image id", "victim identified", "series name"})

#: Headed CSV columns, keyed by the name with case and punctuation removed (``SHA-256`` -> sha256).
_CSV: dict[str, Role] = {
    **{normalise_algorithm(column): ("hash", alg) for alg, column in column_names("csv").items()},
    "hash": ("bare_hash", ""),
    "category": ("category", ""),
    "series": ("series", ""),
    "victimidentified": ("victim", ""),
    "mediaid": ("key", ""),
}


def _icse_name(column: str) -> str:
    return _SPACES.sub(" ", column.strip()).lower()


def icse_role(column: str) -> Role | None:
    """What one of the 12 ICSE columns becomes; None for a column beyond them (kept in ``extra``)."""
    return _ICSE.get(_icse_name(column))


def _split(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


class DelimitedReader:
    def __init__(
        self,
        stream: BinaryIO,
        info: HashSetInfo,
        roles: list[Role],
        *,
        algorithm: str | None,
        category: int | None,
    ) -> None:
        self._stream = stream
        self.info = info
        self._roles = roles
        self._algorithm = algorithm
        self._category = category
        self._used = False

    def __iter__(self) -> Iterator[HashEntryRecord]:
        if self._used:
            raise RuntimeError("a hash-set reader can be iterated only once")
        self._used = True
        return self._iter()

    def _iter(self) -> Iterator[HashEntryRecord]:
        # csv pulls lines itself; the last line number it pulled is kept here for messages.
        pulled = [0]

        def texts() -> Iterator[str]:
            for number, text in text_lines(self._stream, self.info.metadata["encoding"]):
                pulled[0] = number
                yield text

        rows = csv.reader(texts(), delimiter=self.info.metadata["delimiter"], strict=True)
        header_seen = False
        while True:
            start = pulled[0] + 1
            try:
                row = next(rows)
            except StopIteration:
                return
            except csv.Error as exc:
                raise FormatError(f"malformed CSV: {exc}", f"line {start}") from None
            if not any(cell.strip() for cell in row):
                continue
            if not header_seen:
                header_seen = True  # already read from the head when the file was opened
                continue
            yield from self._row(row, f"line {start}", start)

    def _row(self, row: list[str], where: str, line: int) -> list[HashEntryRecord]:
        width = len(self._roles)
        if len(row) > width and any(cell.strip() for cell in row[width:]):
            raise FormatError(f"row has {len(row)} fields but the header names {width}", where)
        hashes: list[tuple[str, str]] = []
        extra: dict[str, Any] = {}
        category = self._category
        series: str | None = None
        victim: bool | None = None
        media_key = f"line-{line}"
        columns: list[str] = self.info.metadata["columns"]
        for (role, name), cell, column in zip(self._roles, row, columns, strict=False):
            value = cell.strip()
            if role == "hash":
                if name == "photodna":
                    if value:
                        hashes.append(("photodna", cell))  # opaque, as given
                else:
                    digest = hex_digest(value, name, where)
                    if digest:
                        hashes.append((name, digest))
            elif role == "bare_hash":
                if value:
                    hashes.append(bare_digest(value, self._algorithm, where))
            elif role == "category":
                category = category_value(value, where)
            elif role == "series":
                series = value or None
            elif role == "victim":
                victim = flag(value, column, where)
            elif role == "key":
                if value:
                    media_key = value
                    extra["media_id"] = value
            elif role == "flag":
                parsed = flag(value, column, where)
                if parsed is not None:
                    extra[name] = parsed
            elif role == "int":
                number = int_or_none(value)
                if number is not None:
                    extra[name] = number
            elif value:
                extra[name] = value
        if not hashes:
            raise FormatError("row has no hash value", where)
        return [
            HashEntryRecord(
                algorithm=alg,
                value=value,
                category=category,
                series=series,
                victim_identified=victim,
                media_key=media_key,
                extra=dict(extra),
            )
            for alg, value in hashes
        ]


def _header(stream: BinaryIO) -> tuple[bytes, str]:
    head = peek_head(stream, SNIFF_BYTES)
    return head, first_line(head)


class IcseFormat:
    """Interpol ICSE export: ``;``-separated, no category column (the ``category`` option applies)."""

    name: ClassVar[str] = "icse"

    def sniff(self, head: bytes) -> bool:
        names = {_icse_name(c) for c in _split(first_line(head), ";")}
        return "md5" in names and bool(names & _ICSE_MARKERS)

    def open(
        self, stream: BinaryIO, *, algorithm: str | None = None, category: int | None = None
    ) -> DelimitedReader:
        head, line = _header(stream)
        columns = _split(line, ";")
        roles = [_ICSE.get(_icse_name(c), ("text", snake(c))) for c in columns]
        if not any(role == "hash" for role, _ in roles):
            raise FormatError("ICSE header has no MD5, SHA1 or PhotoDNA column", "line 1")
        metadata: dict[str, Any] = {"columns": columns, "delimiter": ";", "encoding": guess_encoding(head)}
        if category is not None:
            metadata["assigned_category"] = category
        info = HashSetInfo(format=self.name, profile="icse", metadata=metadata)
        return DelimitedReader(stream, info, roles, algorithm=None, category=category)


class CsvFormat:
    """A CSV whose header names ``md5``, ``sha1``, ``sha256``, ``pdq``, ``category``, ``series``."""

    name: ClassVar[str] = "csv"

    def sniff(self, head: bytes) -> bool:
        return _csv_layout(first_line(head)) is not None

    def open(
        self, stream: BinaryIO, *, algorithm: str | None = None, category: int | None = None
    ) -> DelimitedReader:
        alg = check_algorithm(algorithm)
        head, line = _header(stream)
        layout = _csv_layout(line)
        if layout is None:
            raise FormatError(
                "CSV header names no hash column (md5, sha1, sha256, pdq, photodna or hash)", "line 1"
            )
        delimiter, columns = layout
        roles = [
            _CSV.get(normalise_algorithm(c), ("text", snake(c) or f"column_{i + 1}"))
            for i, c in enumerate(columns)
        ]
        encoding = guess_encoding(head)
        metadata: dict[str, Any] = {"columns": columns, "delimiter": delimiter, "encoding": encoding}
        if alg:
            metadata["algorithm"] = alg
        if category is not None and not any(role == "category" for role, _ in roles):
            metadata["assigned_category"] = category
        info = HashSetInfo(format=self.name, profile="vics-us", metadata=metadata)
        return DelimitedReader(stream, info, roles, algorithm=alg, category=category)


def _csv_layout(line: str) -> tuple[str, list[str]] | None:
    """The delimiter and columns under which ``line`` is a header naming a hash column."""
    for delimiter in _CSV_DELIMITERS:
        columns = _split(line, delimiter)
        if any(_CSV.get(normalise_algorithm(c), ("", ""))[0] in ("hash", "bare_hash") for c in columns):
            return delimiter, columns
    return None


FORMATS.register(IcseFormat.name)(IcseFormat())
FORMATS.register(CsvFormat.name)(CsvFormat())
