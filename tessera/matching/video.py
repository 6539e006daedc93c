"""Matching videos against known videos with vPDQ's semantics, through one PDQ index of all frames.

vPDQ compares two videos as sets of distinct frame hashes of quality >= 50: ``query%`` is the share of
the query's frames within the frame distance (31) of any frame of the known video, ``compared%`` the
share of the known video's frames within that distance of any query frame. Brute force over every
known video would be O(videos x frames^2); here every known frame sits in one exact
:class:`~tessera.matching.pdq.PdqIndex`, a query's frames are searched once, and the percentages are
computed only for the known videos that share at least one frame (exactly the brute-force result).

A match is declared as vPDQ's README defines it: ``compared% >= 80`` (the known video's frames are in
the case video, which may be longer: a compilation) and ``query% >= 0`` (extra content in the case
video does not prevent a match); both thresholds are parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from tessera.hashing.algorithms import ALGORITHMS
from tessera.hashing.video import MATCH_PERCENT, QUERY_PERCENT
from tessera.matching.pdq import PdqIndex, hex_to_rows

_VPDQ = ALGORITHMS.get("vpdq")


@dataclass(frozen=True, slots=True)
class VideoHit:
    entry: int  # the caller's id for the known video
    query_percent: float
    compared_percent: float
    frames_matched: int


def usable_distinct(frames: Iterable[Sequence[object]], min_quality: int = _VPDQ.min_quality) -> list[str]:
    """Distinct PDQ hex of frames given as (frame, quality, pdq, seconds), quality >= min_quality."""
    return sorted({str(f[2]) for f in frames if int(f[1]) >= min_quality})  # type: ignore[call-overload]


class VideoIndex:
    """Known videos' distinct usable frames in one exact PDQ index."""

    def __init__(self, min_quality: int = _VPDQ.min_quality) -> None:
        self.min_quality = min_quality
        self._index = PdqIndex()
        self._frame_video: list[np.ndarray] = []
        self._video_frames: list[int] = []  # distinct usable frames per known video
        self._ids: list[int] = []
        self._n = 0
        self._owner: np.ndarray = np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, video_id: int, frames: Iterable[Sequence[object]]) -> None:
        hexes = usable_distinct(frames, self.min_quality)
        if not hexes:
            return  # a video with no usable frame can never be matched by vPDQ
        pos = len(self._ids)
        self._ids.append(video_id)
        self._video_frames.append(len(hexes))
        self._index.add(np.arange(self._n, self._n + len(hexes), dtype=np.int64), hex_to_rows(hexes))
        self._frame_video.append(np.full(len(hexes), pos, np.int64))
        self._n += len(hexes)

    def _owners(self) -> np.ndarray:
        if len(self._owner) != self._n:
            self._owner = np.concatenate(self._frame_video) if self._frame_video else np.zeros(0, np.int64)
        return self._owner

    def search(
        self,
        frames: Iterable[Sequence[object]],
        distance: int = _VPDQ.default_threshold,
        compared_threshold: float = MATCH_PERCENT,
        query_threshold: float = QUERY_PERCENT,
    ) -> list[VideoHit]:
        """Known videos matching a query video's frames, with vPDQ's percentages."""
        hexes = usable_distinct(frames, self.min_quality)
        if not hexes or not self._ids:
            return []
        q_idx, pos, _ = self._index.search(hex_to_rows(hexes), radius=distance)
        if not len(q_idx):
            return []
        video = self._owners()[pos]
        hits = []
        for v in np.unique(video).tolist():
            sel = video == v
            q_matched = len(np.unique(q_idx[sel]))
            c_matched = len(np.unique(pos[sel]))
            q_pct = 100.0 * q_matched / len(hexes)
            c_pct = 100.0 * c_matched / self._video_frames[v]
            if c_pct >= compared_threshold and q_pct >= query_threshold:
                hits.append(VideoHit(self._ids[v], q_pct, c_pct, c_matched))
        return hits
