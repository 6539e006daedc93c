"""Video: vPDQ frame hashes with Meta's ``vpdq`` (ffmpeg underneath), and vPDQ's matching semantics.

A video is an unordered set of frame hashes. Frames below quality 50 are dropped; a frame matches if it
is within distance 31 of any frame of the other video; ``query%`` is the share of the query's distinct
frames that match, ``compared%`` the share of the other video's; a match is declared when compared% is at
least 80 (configurable). Frames are also plain PDQ hashes, so a still taken from a known video matches.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tessera.hashing.algorithms import ALGORITHMS, hamming_matrix
from tessera.records import VideoFrame

if TYPE_CHECKING:
    import numpy as np

#: The frame distance and minimum frame quality are the vPDQ algorithm's (per frame, as for PDQ).
_VPDQ = ALGORITHMS.get("vpdq")
#: vPDQ's README: a match needs compared% >= 80 (P_c) and query% >= 0 (P_q).
MATCH_PERCENT = 80.0
QUERY_PERCENT = 0.0


class VideoUnavailable(RuntimeError):
    """vpdq is not installed (it builds against the ffmpeg libraries that `make test` installs)."""


#: One frame hash per this many seconds of video (0 = every frame). Every frame, as bench/bench_video.py
#: shows: vPDQ's rule needs 80 % of the *known* video's frames found in the case video, and known sets
#: are hashed at every frame (vpdq's default); sampling the case side at even 4 frames a second drops
#: real footage to 22-57 % against such sets, while it keeps 100 % against sets sampled the same way.
DEFAULT_SECONDS_PER_HASH = 0.0

__all__ = ["VideoFrame", "VideoOptions", "VideoFacts", "analyse_video", "vpdq_frames", "match_videos"]


def vpdq_frames(path: str | Path, seconds_per_hash: float = 0.0, threads: int = 0) -> list[VideoFrame]:
    """Frame hashes of a video file: every frame (0) or one per ``seconds_per_hash``."""
    try:
        import vpdq
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise VideoUnavailable("video hashing needs the vpdq package (pip install 'tessera[video]')") from exc
    feats = vpdq.computeHash(str(path), seconds_per_hash=seconds_per_hash, thread_count=threads)
    return [VideoFrame(int(f.frame_number), int(f.quality), str(f.hex), float(f.timestamp)) for f in feats]


@dataclass(frozen=True, slots=True)
class VideoOptions:
    """How videos are hashed. Picklable: it travels to worker processes with each batch."""

    enabled: bool = True
    seconds_per_hash: float = DEFAULT_SECONDS_PER_HASH
    #: vpdq's own hashing threads; 1 when several worker processes already share the cores.
    threads: int = 0
    #: Where a video held only in memory (an archive member) is written for vpdq, which reads
    #: files: the case's scratch space, never the evidence. None: the system's temporary folder.
    scratch: str | None = None


@dataclass(slots=True)
class VideoFacts:
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    frames: list[VideoFrame] | None = None
    error: str | None = None


def _probe(source: str | bytes) -> VideoFacts:
    """Stream facts with PyAV, so an unreadable file gets a precise reason before vpdq is asked."""
    import av

    try:
        with av.open(source if isinstance(source, str) else io.BytesIO(source), mode="r") as container:
            if not container.streams.video:
                return VideoFacts(error="video has no video stream")
            stream = container.streams.video[0]
            duration = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / 1_000_000
            return VideoFacts(
                width=stream.codec_context.width, height=stream.codec_context.height, duration=duration
            )
    except (av.error.FFmpegError, ValueError, IndexError) as exc:
        return VideoFacts(error=f"unreadable video: {exc}")


def analyse_video(source: str | bytes, options: VideoOptions | None = None) -> VideoFacts:
    """Dimensions, duration and vPDQ frame hashes of a video. Never raises for bad video data."""
    options = options or VideoOptions()
    try:
        facts = _probe(source)
    except ImportError:  # pragma: no cover - PyAV is a dependency
        facts = VideoFacts()
    if facts.error or not options.enabled:
        return facts
    path, temp = source, None
    try:
        if isinstance(source, bytes):
            # A Dask worker on another machine may not see the case's scratch folder.
            scratch = options.scratch if options.scratch and os.path.isdir(options.scratch) else None
            fd, temp = tempfile.mkstemp(suffix=".video", dir=scratch)
            with os.fdopen(fd, "wb") as fh:
                fh.write(source)
            path = temp
        assert isinstance(path, str)
        facts.frames = vpdq_frames(path, options.seconds_per_hash, options.threads)
    except VideoUnavailable as exc:
        facts.error = f"video frames not hashed: {exc}"
    except Exception as exc:  # noqa: BLE001 - vpdq raises a bare Exception for undecodable input
        facts.error = f"video frames not hashed: {exc}"
    finally:
        if temp is not None:
            os.unlink(temp)
    return facts


@dataclass(frozen=True, slots=True)
class VideoMatch:
    query_percent: float
    compared_percent: float

    def is_match(self, threshold: float = MATCH_PERCENT, query_threshold: float = QUERY_PERCENT) -> bool:
        return self.compared_percent >= threshold and self.query_percent >= query_threshold


def _usable(frames: Sequence[VideoFrame], min_quality: int) -> np.ndarray:
    distinct = sorted({f.pdq for f in frames if f.quality >= min_quality})
    return ALGORITHMS.get("pdq").to_bits(distinct)


def match_videos(
    query: Sequence[VideoFrame],
    compared: Sequence[VideoFrame],
    distance: int = _VPDQ.default_threshold,
    min_quality: int = _VPDQ.min_quality,
) -> VideoMatch:
    """vPDQ's comparison of two videos (distinct usable frames on each side)."""
    q, c = _usable(query, min_quality), _usable(compared, min_quality)
    if not len(q) or not len(c):
        return VideoMatch(0.0, 0.0)
    close = hamming_matrix(q, c) <= distance
    return VideoMatch(100.0 * close.any(axis=1).mean(), 100.0 * close.any(axis=0).mean())
