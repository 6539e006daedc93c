"""Matching case media against every hash set: during ingest, and again after a late import."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tessera.hashing.algorithms import ALGORITHMS
from tessera.matching.exact import exact_matches_for_set, exact_matches_records
from tessera.matching.gpu import PdqMatcher, pdq_index
from tessera.matching.pdq import PdqIndex
from tessera.matching.video import VideoIndex
from tessera.records import MediaRecord, VideoFrame
from tessera.store import models as m
from tessera.store.models_video import VideoFrameRow
from tessera.store.writes import insert_ignore

_PDQ = ALGORITHMS.get("pdq")
_CHUNK = 20_000


@dataclass(frozen=True, slots=True)
class Hit:
    sha256: str
    entry_id: int
    hashset_id: int
    algorithm: str
    distance: int
    #: For videos: which frame matched an image PDQ, or vPDQ's percentages (see Match.detail).
    detail: dict[str, Any] | None = field(default=None, compare=False)


class CaseMatcher:
    """Holds the PDQ entries of all hash sets in one index; exact matching is left to the database."""

    def __init__(self, default_threshold: int | None = None, min_quality: int | None = None):
        """Threshold and minimum quality default to PDQ's (a case's threshold: ``case_default_threshold``)."""
        self.default_threshold = _PDQ.threshold(default_threshold)
        self.min_quality = _PDQ.min_quality if min_quality is None else min_quality
        self.index: PdqMatcher = PdqIndex()
        self._entry_ids = np.zeros(0, np.int64)
        self._set_ids = np.zeros(0, np.int64)
        self._thresholds: dict[int, int] = {}
        self.videos = VideoIndex(self.min_quality)
        self._video_entries: list[tuple[int, int]] = []  # (entry id, set id) by VideoIndex id

    def load(self, session: Session, hashset_id: int | None = None) -> CaseMatcher:
        """Index the PDQ entries of every set (or of one set), streamed from the database."""
        sets = session.execute(select(m.HashSet.id, m.HashSet.pdq_threshold)).all()
        self._thresholds = {sid: thr if thr is not None else self.default_threshold for sid, thr in sets}
        q = select(m.HashEntry.id, m.HashEntry.hashset_id, m.HashEntry.value).where(
            m.HashEntry.algorithm == "pdq"
        )
        if hashset_id is not None:
            q = q.where(m.HashEntry.hashset_id == hashset_id)
        # The count picks the index (a GPU from GPU_MIN_REFS entries when one is present) and sizes it.
        n_pdq = session.scalar(select(func.count()).select_from(q.subquery())) or 0
        self.index = pdq_index(n_pdq)
        entry_parts: list[np.ndarray] = []
        set_parts: list[np.ndarray] = []
        base = 0
        for part in session.execute(q.execution_options(yield_per=_CHUNK)).partitions(_CHUNK):
            ids = np.array([r[0] for r in part], np.int64)
            entry_parts.append(ids)
            set_parts.append(np.array([r[1] for r in part], np.int64))
            self.index.add(
                np.arange(base, base + len(part), dtype=np.int64), _PDQ.to_bits([r[2] for r in part])
            )
            base += len(part)
        if entry_parts:
            self._entry_ids = np.concatenate(entry_parts)
            self._set_ids = np.concatenate(set_parts)
        vq = select(m.HashEntry.id, m.HashEntry.hashset_id, m.HashEntry.extra).where(
            m.HashEntry.algorithm == "vpdq"
        )
        if hashset_id is not None:
            vq = vq.where(m.HashEntry.hashset_id == hashset_id)
        for entry_id, set_id, extra in session.execute(vq.execution_options(yield_per=500)):
            self._video_entries.append((entry_id, set_id))
            self.videos.add(len(self._video_entries) - 1, (extra or {}).get("frames", []))
        return self

    @property
    def pdq_entries(self) -> int:
        return len(self._entry_ids)

    def _pdq_hits(self, items: Sequence[tuple[str, str]]) -> Iterator[Hit]:
        """items: (sha256, pdq hex) of usable quality."""
        if not items or not len(self._entry_ids):
            return
        radius = max(self._thresholds.values(), default=self.default_threshold)
        q_idx, pos, dist = self.index.search(_PDQ.to_bits([h for _, h in items]), radius=radius)
        for qi, p, d in zip(q_idx.tolist(), pos.tolist(), dist.tolist(), strict=True):
            set_id = int(self._set_ids[p])
            if d <= self._thresholds.get(set_id, self.default_threshold):
                yield Hit(items[qi][0], int(self._entry_ids[p]), set_id, "pdq", int(d))

    def match_records(self, session: Session, records: Sequence[MediaRecord]) -> list[Hit]:
        """Match newly stored media; writes the match rows (idempotently) and returns the hits."""
        # The records' own digests drive the lookup: no statement here reads (or scales with) media.
        hits = [Hit(s, e, h, a, 0) for s, e, h, a in exact_matches_records(session, records)]
        usable: list[tuple[str, str]] = []
        for r in records:
            if r.pdq is not None and r.pdq_quality is not None and r.pdq_quality >= self.min_quality:
                usable.append((r.sha256, r.pdq))
        hits.extend(self._pdq_hits(usable))
        for r in records:
            if r.frames:
                hits.extend(self._video_hits(r.sha256, r.frames))
        store_hits(session, hits)
        return hits

    def _video_hits(self, sha256: str, frames: Sequence[VideoFrame]) -> list[Hit]:
        """A video's frames against image PDQ entries (a known still) and against known videos."""
        usable = [f for f in frames if f.quality >= self.min_quality]
        by_pdq: dict[str, VideoFrame] = {}
        for f in usable:
            by_pdq.setdefault(f.pdq, f)
        best: dict[int, Hit] = {}
        # Each frame is searched under its own PDQ as the key, so a hit names the frame it came from.
        for h in self._pdq_hits([(f.pdq, f.pdq) for f in by_pdq.values()]):
            if h.entry_id not in best or h.distance < best[h.entry_id].distance:
                f = by_pdq[h.sha256]
                best[h.entry_id] = Hit(
                    sha256,
                    h.entry_id,
                    h.hashset_id,
                    "pdq",
                    h.distance,
                    {"frame": f.frame, "seconds": round(f.seconds, 3)},
                )
        out = list(best.values())
        if len(self.videos):
            triples = [(f.frame, f.quality, f.pdq, f.seconds) for f in usable]
            for v in self.videos.search(triples, distance=self.default_threshold):
                entry_id, set_id = self._video_entries[v.entry]
                out.append(
                    Hit(
                        sha256,
                        entry_id,
                        set_id,
                        "vpdq",
                        0,
                        {
                            "query_percent": round(v.query_percent, 1),
                            "compared_percent": round(v.compared_percent, 1),
                            "frames_matched": v.frames_matched,
                        },
                    )
                )
        return out

    def match_case_media(self, session: Session, hashset_id: int) -> int:
        """After importing a set: match all case media against it. Returns the number of hits."""
        hits = [Hit(s, e, h, a, 0) for s, e, h, a in exact_matches_for_set(session, hashset_id)]
        store_hits(session, hits)
        count = len(hits)
        if self.pdq_entries:
            q = (
                select(m.Media.sha256, m.Media.pdq)
                .where(m.Media.pdq.is_not(None), m.Media.pdq_quality >= self.min_quality)
                .execution_options(yield_per=_CHUNK)
            )
            for part in session.execute(q).partitions(_CHUNK):
                pdq_hits = list(self._pdq_hits([(s, p) for s, p in part if p is not None]))
                store_hits(session, pdq_hits)
                count += len(pdq_hits)
        if self.pdq_entries or len(self.videos):
            for sha, frames in _case_video_frames(session):
                video_hits = self._video_hits(sha, frames)
                store_hits(session, video_hits)
                count += len(video_hits)
        return count


def _case_video_frames(session: Session) -> Iterator[tuple[str, list[VideoFrame]]]:
    """Every case video's frames, one video at a time (streamed in sha256 order)."""
    q = (
        select(
            VideoFrameRow.sha256,
            VideoFrameRow.frame,
            VideoFrameRow.quality,
            VideoFrameRow.pdq,
            VideoFrameRow.seconds,
        )
        .order_by(VideoFrameRow.sha256, VideoFrameRow.frame)
        .execution_options(yield_per=_CHUNK)
    )
    current: str | None = None
    frames: list[VideoFrame] = []
    for sha, frame, quality, pdq, seconds in session.execute(q):
        if sha != current:
            if current is not None:
                yield current, frames
            current, frames = sha, []
        frames.append(VideoFrame(frame, quality, pdq, seconds))
    if current is not None:
        yield current, frames


def store_hits(session: Session, hits: Iterable[Hit]) -> None:
    rows = [
        {
            "sha256": h.sha256,
            "entry_id": h.entry_id,
            "hashset_id": h.hashset_id,
            "algorithm": h.algorithm,
            "distance": h.distance,
            "found_at": m.utcnow(),
            "detail": h.detail,
        }
        for h in hits
    ]
    for start in range(0, len(rows), 1000):
        insert_ignore(session, m.Match, rows[start : start + 1000], ["sha256", "entry_id"])


def case_default_threshold(s: Session) -> int:
    case = s.scalar(select(m.Case).limit(1))
    if case and isinstance(case.settings, dict):
        return int(case.settings.get("pdq_threshold", _PDQ.default_threshold))
    return _PDQ.default_threshold
