"""Video: vPDQ frame hashes with Meta's ``vpdq`` (ffmpeg underneath), and vPDQ's matching semantics.

A video is an unordered set of frame hashes. Frames below quality 50 are dropped; a frame matches if it
is within distance 31 of any frame of the other video; ``query%`` is the share of the query's distinct
frames that match, ``compared%`` the share of the other video's; a match is declared when compared% is at
least 80 (configurable). Frames are also plain PDQ hashes, so a still taken from a known video matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tessera.hashing.algorithms import hamming_matrix, pdq_hex_to_array

MIN_QUALITY = 50
FRAME_DISTANCE = 31
MATCH_PERCENT = 80.0


class VideoUnavailable(RuntimeError):
    """vpdq is not installed (it builds against the ffmpeg libraries that `make test` installs)."""


@dataclass(frozen=True, slots=True)
class VideoFrame:
    frame: int
    quality: int
    pdq: str  # 64 hex digits
    seconds: float


def vpdq_frames(path: str | Path, seconds_per_hash: float = 0.0) -> list[VideoFrame]:
    """Frame hashes of a video file: every frame (0) or one per ``seconds_per_hash``."""
    try:
        import vpdq
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise VideoUnavailable("video hashing needs the vpdq package (pip install 'tessera[video]')") from exc
    feats = vpdq.computeHash(str(path), seconds_per_hash=seconds_per_hash)
    return [VideoFrame(int(f.frame_number), int(f.quality), str(f.hex), float(f.timestamp)) for f in feats]


@dataclass(frozen=True, slots=True)
class VideoMatch:
    query_percent: float
    compared_percent: float

    def is_match(self, threshold: float = MATCH_PERCENT) -> bool:
        return self.compared_percent >= threshold


def _usable(frames: Sequence[VideoFrame], min_quality: int) -> np.ndarray:
    distinct = sorted({f.pdq for f in frames if f.quality >= min_quality})
    return pdq_hex_to_array(distinct) if distinct else np.zeros((0, 32), np.uint8)


def match_videos(
    query: Sequence[VideoFrame],
    compared: Sequence[VideoFrame],
    distance: int = FRAME_DISTANCE,
    min_quality: int = MIN_QUALITY,
) -> VideoMatch:
    """vPDQ's comparison of two videos (distinct usable frames on each side)."""
    q, c = _usable(query, min_quality), _usable(compared, min_quality)
    if not len(q) or not len(c):
        return VideoMatch(0.0, 0.0)
    close = hamming_matrix(q, c) <= distance
    return VideoMatch(100.0 * close.any(axis=1).mean(), 100.0 * close.any(axis=0).mean())
