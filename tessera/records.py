"""Records that cross package boundaries.

Plugins (evidence sources, hash-set formats, hashers) return these plain records; the pipeline in
``tessera.ingest`` and the store in ``tessera.store`` decide what to persist. Raw values are kept as
found (raw path bytes, original category strings) and formatted late.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Separator between the layers of a chained locator: ``/Download/backup.zip!/photos/a.png``.
LOCATOR_SEP = "!"


@dataclass(frozen=True, slots=True)
class Opener:
    """How a worker process gets at the bytes of an item, without the walker holding them.

    Exactly one of ``path`` (a plain file on the examiner's file system, opened read-only) or
    ``data`` (the bytes of a member read out of a container, bounded by the source's limits) is set.
    Both are picklable so the opener can travel to another process or machine.
    """

    path: str | None = None
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """One file-like occurrence found in an evidence source.

    ``locator`` is relative to the device (``/a/b.zip!/c/d.png``); the device id is prefixed when
    displayed. ``raw_path`` holds the undecoded name bytes of every layer joined with ``b"!"`` so
    names that are not UTF-8 survive; ``locator`` uses ``surrogateescape``-free display text
    (undecodable bytes shown as ``\\xNN``), with ``!`` inside a name escaped and later members of a
    repeated name numbered (``#2``) so it splits back into its layers
    (:func:`tessera.evidence.base.parse_locator`, :func:`~tessera.evidence.base.split_raw_path`).
    """

    locator: str
    raw_path: bytes
    size: int | None
    opener: Opener | None
    mtime: float | None = None
    atime: float | None = None
    ctime: float | None = None
    crtime: float | None = None
    #: Found in a file system's unallocated entries: the file, or a folder above it, was deleted.
    deleted: bool = False
    #: A file whose folder is unknown (The Sleuth Kit's ``$OrphanFiles``); always ``deleted`` too.
    orphan: bool = False
    #: Name of the NTFS alternate data stream this item is (its locator ends ``:stream``); None for a
    #: file's main content.
    stream: str | None = None
    is_symlink: bool = False
    link_target: str | None = None
    #: Set when the item could not be read or a container could not be opened.
    error: str | None = None
    #: Depth of container nesting (0 = directly in the source).
    depth: int = 0
    #: ``"symlink"`` or ``"hard"`` for a link, else None. A hard link is a name for the same content
    #: (not a pointer), so it carries its target's bytes where the container holds them and
    #: ``is_symlink`` stays False; ``link_target`` names the other name.
    link_kind: str | None = None


@dataclass(slots=True)
class ExifInfo:
    make: str | None = None
    model: str | None = None
    body_serial: str | None = None
    capture_time: str | None = None  # as written in the file (EXIF "YYYY:MM:DD HH:MM:SS"), not reinterpreted
    gps_lat: float | None = None
    gps_lon: float | None = None
    orientation: int | None = None
    #: Producer-lead fields kept raw (lens, DNG serial, offset, GPS altitude/time): hashing.exif_fields.
    #: Not compared: they are the same tags again, raw, and equality stays about the decoded values.
    fields: dict[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One vPDQ frame hash: the frame's number and time in the video, its PDQ and quality."""

    frame: int
    quality: int
    pdq: str  # 64 hex digits
    seconds: float


@dataclass(slots=True)
class MediaRecord:
    """What hashing derives from one item's bytes."""

    sha256: str
    md5: str
    sha1: str
    size: int
    mime: str | None = None
    kind: str = "other"  # image | video | archive | other
    width: int | None = None
    height: int | None = None
    pdq: str | None = None  # 64 hex digits, most significant word first
    pdq_quality: int | None = None
    exif: ExifInfo | None = None
    #: Videos: length in seconds and the vPDQ frame hashes (every sampled frame, any quality).
    duration: float | None = None
    frames: list[VideoFrame] | None = None
    #: Non-fatal problem found while deriving (e.g. "truncated image: ..."); digests are still valid.
    error: str | None = None


@dataclass(slots=True)
class HashSetInfo:
    """Header facts about an imported hash-set file."""

    format: str  # permanent format name: vics, icse, csv, list
    profile: str = "vics-us"  # category profile the values come from
    version: str | None = None  # e.g. VICS "1.3" or "2.0"
    kind: str = "media"  # media | cases (VICS #Cases files)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class HashEntryRecord:
    """One hash value of a hash set. ``value`` is lower-case hex (PhotoDNA kept opaque, as given)."""

    algorithm: str  # md5 | sha1 | sha256 | pdq | photodna
    value: str
    category: int | None = None
    series: str | None = None
    victim_identified: bool | None = None
    #: Links entries that describe the same media item (several algorithms for one file).
    media_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class FormatError(ValueError):
    """A malformed import. ``where`` names the line, entry or byte offset."""

    def __init__(self, message: str, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{message} (at {where})" if where else message)
