"""Hash-set formats (VICS JSON, ICSE CSV, headed CSV, plain lists, vPDQ videos): streamed import, VICS export.

>>> with open("projectvic.json", "rb") as fh:            # doctest: +SKIP
...     reader = open_hashset(fh)
...     for entry in reader: ...
"""

from __future__ import annotations

import io
import logging
from typing import BinaryIO, cast

from tessera.hashsets import delimited, nsrl, plainlist, vics, vpdq  # noqa: F401  (registers the formats)
from tessera.hashsets._common import peek_head, strip_bom
from tessera.hashsets.base import FORMATS, SNIFF_BYTES, HashSetFormat, HashSetReader
from tessera.records import FormatError

log = logging.getLogger(__name__)

__all__ = ["FORMATS", "HashSetFormat", "HashSetReader", "detect_format", "open_hashset"]

#: Specific formats are tried before the generic ones, which would accept their headers too.
_FIRST = ("vics", "icse")
_LAST = ("csv", "list")


def _sniff_order() -> list[str]:
    names = FORMATS.names()
    plugins = [n for n in names if n not in _FIRST and n not in _LAST]
    return [n for n in _FIRST if n in FORMATS] + plugins + [n for n in _LAST if n in FORMATS]


def detect_format(head: bytes) -> str:
    """The name of the first format whose sniffer accepts ``head``; FormatError when none does."""
    if not strip_bom(head).strip():
        raise FormatError("the file is empty")
    for name in _sniff_order():
        if FORMATS.get(name).sniff(head):
            return name
    raise FormatError(
        "unrecognised hash-set format: not VICS JSON (odata header), an ICSE export (MD5;SHA1;PhotoDNA...),"
        " a CSV with a hash column header, or a list of hex hashes; use --format to say which it is",
        "line 1",
    )


def open_hashset(
    stream: BinaryIO, fmt: str = "auto", *, algorithm: str | None = None, category: int | None = None
) -> HashSetReader:
    """Open a hash-set file; ``fmt="auto"`` sniffs its first 64 KiB.

    ``stream`` is a binary file positioned at the start of the data (seekable, or offering
    ``peek()``; other streams are wrapped in a buffer). ``algorithm`` names the algorithm of bare
    hashes (plain lists, a CSV ``hash`` column); ``category`` is applied where the file has no
    category of its own (plain lists, ICSE, a CSV without a category column).
    """
    if not stream.seekable() and not hasattr(stream, "peek"):
        stream = cast(BinaryIO, io.BufferedReader(cast(io.RawIOBase, stream), SNIFF_BYTES))
    if fmt == "auto":
        fmt = detect_format(peek_head(stream, SNIFF_BYTES))
    elif fmt not in FORMATS:
        raise FormatError(f"unknown hash-set format {fmt!r} (known: auto, {', '.join(FORMATS.names())})")
    log.info("reading a hash set as %s", fmt, extra={"format": fmt, "algorithm": algorithm})
    return FORMATS.get(fmt).open(stream, algorithm=algorithm, category=category)
