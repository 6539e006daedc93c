"""vPDQ hash sets: known videos as lists of frame hashes.

Two layouts, both text:

* the output of Meta's vpdq tools for one video (``../shared/conformance/vpdq/hashes/*.txt``): one
  line per frame, ``frame,quality,pdq-hex[,seconds]``; the file is one entry and ``--category``
  gives its category;
* JSON Lines, one known video per line (``docs/formats.md``, "tessera-vpdq v1")::

    {"id": "V-0001", "category": 1, "series": "S-12", "victim_identified": false,
     "md5": "...", "sha256": "...", "frames": ["0,100,e271...,0.000", "15,98,c0f1...,0.500"]}

Each video becomes one ``vpdq`` entry whose value is the SHA-256 of its canonical frame list (so the
(algorithm, value) index stays small and a re-import is recognisably the same video) and whose
``extra["frames"]`` holds the frames; digests given on the line become exact entries of the same
``media_key``. Matching follows vPDQ (``tessera.hashing.video``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO, ClassVar

from tessera.hashing.algorithms import exact_names
from tessera.hashsets._common import (
    category_value,
    flag,
    hex_digest,
    peek_head,
    strip_bom,
    text_lines,
)
from tessera.hashsets.base import FORMATS
from tessera.records import FormatError, HashEntryRecord, HashSetInfo

_FRAME_LINE = re.compile(rb"\s*\d+\s*,\s*\d+\s*,\s*[0-9a-fA-F]{64}\s*(,\s*[0-9.]+\s*)?")

Frame = tuple[int, int, str, float]


def parse_frame(text: str, where: str) -> Frame:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (3, 4):
        raise FormatError(f"a vPDQ frame is frame,quality,pdq[,seconds], not {text[:80]!r}", where)
    try:
        frame, quality = int(parts[0]), int(parts[1])
        seconds = float(parts[3]) if len(parts) == 4 else 0.0
    except ValueError:
        raise FormatError(f"frame, quality or seconds is not a number in {text[:80]!r}", where) from None
    pdq = hex_digest(parts[2], "pdq", where)
    if pdq is None or not 0 <= quality <= 100:
        raise FormatError(f"bad PDQ or quality (0-100) in {text[:80]!r}", where)
    return frame, quality, pdq, seconds


def frames_value(frames: list[Frame]) -> str:
    """The entry's value: SHA-256 of the frames in a canonical text form."""
    text = "\n".join(f"{f},{q},{h},{s:.3f}" for f, q, h, s in frames)
    return hashlib.sha256(text.encode()).hexdigest()


class VpdqReader:
    def __init__(self, stream: BinaryIO, info: HashSetInfo, category: int | None, layout: str) -> None:
        self._stream, self.info, self._category, self._layout = stream, info, category, layout
        self._used = False

    def __iter__(self) -> Iterator[HashEntryRecord]:
        if self._used:
            raise RuntimeError("a hash-set reader can be iterated only once")
        self._used = True
        return self._frames_file() if self._layout == "frames" else self._jsonl()

    def _frames_file(self) -> Iterator[HashEntryRecord]:
        frames = [parse_frame(line, f"line {n}") for n, line in text_lines(self._stream) if line.strip()]
        if not frames:
            raise FormatError("no frames in the file", "line 1")
        yield _video_entry(frames, self._category, None, None, None)

    def _jsonl(self) -> Iterator[HashEntryRecord]:
        seen: set[str] = set()
        for n, line in text_lines(self._stream):
            if not line.strip():
                continue
            where = f"line {n}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise FormatError(f"not JSON: {exc.msg} at column {exc.colno}", where) from None
            if not isinstance(obj, dict) or not isinstance(obj.get("frames"), list):
                raise FormatError('each line is a JSON object with a "frames" list', where)
            key = str(obj.get("id") or f"line-{n}")
            if key in seen:
                raise FormatError(f"video id {key!r} appears twice", where)
            seen.add(key)
            frames = [parse_frame(str(f), where) for f in obj["frames"]]
            if not frames:
                raise FormatError(f"video {key!r} has no frames", where)
            category = category_value(obj.get("category"), where)
            if category is None:
                category = self._category
            series = obj.get("series")
            victim = flag(obj.get("victim_identified"), "victim_identified", where)
            for alg in exact_names():
                digest = hex_digest(obj.get(alg), alg, where)
                if digest:
                    yield HashEntryRecord(
                        algorithm=alg,
                        value=digest,
                        category=category,
                        series=series,
                        victim_identified=victim,
                        media_key=key,
                    )
            yield _video_entry(frames, category, series, victim, key)


def _video_entry(
    frames: list[Frame], category: int | None, series: Any, victim: bool | None, key: str | None
) -> HashEntryRecord:
    return HashEntryRecord(
        algorithm="vpdq",
        value=frames_value(frames),
        category=category,
        series=None if series is None else str(series),
        victim_identified=victim,
        media_key=key,
        extra={"frames": [list(f) for f in frames]},
    )


class VpdqFormat:
    name: ClassVar[str] = "vpdq"

    def sniff(self, head: bytes) -> bool:
        body = strip_bom(head).lstrip()
        first = body.split(b"\n", 1)[0]
        if _FRAME_LINE.fullmatch(first.rstrip(b"\r")):
            return True
        return body.startswith(b"{") and b'"frames"' in first[:4096] and b"odata" not in first[:4096]

    def open(
        self, stream: BinaryIO, *, algorithm: str | None = None, category: int | None = None
    ) -> VpdqReader:
        if algorithm not in (None, "vpdq"):
            raise FormatError(f"a vPDQ set holds vpdq entries, not {algorithm}", "line 1")
        head = strip_bom(peek_head(stream, 4096)).lstrip()
        layout = "jsonl" if head.startswith(b"{") else "frames"
        metadata: dict[str, Any] = {"layout": layout}
        if category is not None:
            metadata["assigned_category"] = category
        return VpdqReader(stream, HashSetInfo(format=self.name, metadata=metadata), category, layout)


FORMATS.register(VpdqFormat.name)(VpdqFormat())
