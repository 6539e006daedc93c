"""What the hashing workers run: a batch of files in, digests, type and media facts out.

These functions travel to worker processes (or Dask workers) by name, so they live apart from the
pipeline that calls them and import only what hashing needs.
"""

from __future__ import annotations

from collections.abc import Sequence

from tessera.hashing import hash_item
from tessera.hashing.video import VideoOptions
from tessera.records import MediaRecord, Opener


def hash_batch(
    batch: Sequence[tuple[int, Opener]], fast_decode: bool, video: VideoOptions | None = None
) -> list[tuple[int, MediaRecord | None, str | None]]:
    """The older entry point (numbered openers in, numbered records out): :func:`hash_files` beneath."""
    results = hash_files([opener for _, opener in batch], fast_decode, video)
    return [(idx, *record_of(res)) for (idx, _), res in zip(batch, results, strict=True)]


#: What a worker sends back for one file of :func:`hash_files`: the digests, size and type as a plain
#: tuple (``MediaRecord`` field order) when that is all there is, the whole record when it holds more
#: (an image's PDQ, a video's frames, a problem), or the error text when the file could not be hashed.
Hashed = tuple[str, str, str, int, str | None, str] | MediaRecord | str


def hash_files(
    batch: Sequence[str | Opener], fast_decode: bool, video: VideoOptions | None = None
) -> list[Hashed]:
    """Worker entry point of the local pool: ``batch`` holds paths of plain files (or openers), the
    results come back in the same order. Paths and tuples pickle in a fraction of the time openers
    and records take, which on small files is much of what the parent spends per file."""
    out: list[Hashed] = []
    for work in batch:
        opener = Opener(path=work) if isinstance(work, str) else work
        try:
            rec = hash_item(opener, fast_decode=fast_decode, video=video)
        except OSError as exc:
            out.append(f"unreadable: {exc.strerror or exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - one bad file must not end the run
            out.append(f"hashing failed: {type(exc).__name__}: {exc}")
            continue
        plain = MediaRecord(rec.sha256, rec.md5, rec.sha1, rec.size, rec.mime, rec.kind)
        out.append((rec.sha256, rec.md5, rec.sha1, rec.size, rec.mime, rec.kind) if rec == plain else rec)
    return out


def record_of(res: Hashed) -> tuple[MediaRecord | None, str | None]:
    if isinstance(res, str):
        return None, res
    if isinstance(res, tuple):
        return MediaRecord(*res), None
    return res, None


def work_of(opener: Opener) -> str | Opener:
    # A plain file travels as its path; a member's bytes (or a spooled member's path) as the opener.
    return opener.path if opener.data is None and opener.path is not None else opener
