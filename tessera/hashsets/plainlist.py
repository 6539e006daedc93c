"""Plain hash lists: one hex hash per line, blank lines and ``#`` comments ignored.

The algorithm comes from ``algorithm`` or from the length (32 MD5, 40 SHA-1). 64 hex digits are
SHA-256 or PDQ and are refused without ``algorithm``: guessing would make matches silently wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO, ClassVar

from tessera.hashsets._common import (
    bare_digest,
    check_algorithm,
    guess_encoding,
    peek_head,
    strip_bom,
    text_lines,
)
from tessera.hashsets.base import FORMATS, SNIFF_BYTES
from tessera.records import HashEntryRecord, HashSetInfo

_HEX_LINE = re.compile(rb"[0-9a-fA-F]+")


def _content(line: str) -> str:
    """The hash on a line, without a trailing ``# comment`` or surrounding blanks."""
    return line.split("#", 1)[0].strip()


class PlainListReader:
    def __init__(
        self, stream: BinaryIO, info: HashSetInfo, algorithm: str | None, category: int | None
    ) -> None:
        self._stream = stream
        self.info = info
        self._algorithm = algorithm
        self._category = category
        self._used = False

    def __iter__(self) -> Iterator[HashEntryRecord]:
        if self._used:
            raise RuntimeError("a hash-set reader can be iterated only once")
        self._used = True
        return self._iter()

    def _iter(self) -> Iterator[HashEntryRecord]:
        for number, line in text_lines(self._stream, self.info.metadata["encoding"]):
            text = _content(line)
            if text:
                alg, digest = bare_digest(text, self._algorithm, f"line {number}")
                yield HashEntryRecord(algorithm=alg, value=digest, category=self._category)


class PlainListFormat:
    name: ClassVar[str] = "list"

    def sniff(self, head: bytes) -> bool:
        """True when the first line that is not blank or a comment is hex.

        Only the first such line decides, so a bad line further down is reported by line number
        when the file is read rather than making the whole file unrecognisable.
        """
        comments = False
        for raw in strip_bom(head).splitlines():
            text = raw.split(b"#", 1)[0].strip()
            if text:
                return bool(_HEX_LINE.fullmatch(text))
            comments = comments or raw.strip().startswith(b"#")
        return comments

    def open(
        self, stream: BinaryIO, *, algorithm: str | None = None, category: int | None = None
    ) -> PlainListReader:
        alg = check_algorithm(algorithm)
        metadata: dict[str, Any] = {"encoding": guess_encoding(peek_head(stream, SNIFF_BYTES))}
        if alg:
            metadata["algorithm"] = alg
        if category is not None:
            metadata["assigned_category"] = category
        info = HashSetInfo(format=self.name, profile="vics-us", metadata=metadata)
        return PlainListReader(stream, info, alg, category)


FORMATS.register(PlainListFormat.name)(PlainListFormat())
