"""Video hashing: frames per second against Meta's vpdq bindings, and the sampling default.

    python bench/bench_video.py [--videos 6] [--seconds 20] [--record]

Part 1, throughput, on the same videos (vPDQ's sample videos from ../shared/conformance/vpdq/videos,
real camera footage, plus generated 1280x720 30 fps videos): the peer is ``vpdq.computeHash`` called
directly, every frame, vpdq's own thread count; Tessera is ``ingest`` of the same folder with two
worker processes (digests, probing, storing and matching included), every frame and at the default
sampling.

Part 2, sampling: for one frame hash every 0 (all), 0.25, 0.5, 1 and 2 seconds, the hashing time per
second of video, and vPDQ's compared% of traded copies (re-encoded smaller at lower quality; known clips
inside whole videos; vPDQ's own sample videos against Meta's reference hashes) against known sets hashed
at every frame and against known sets sampled the same way, with the closest unrelated pair.
The default (``tessera.hashing.video.DEFAULT_SECONDS_PER_HASH``) is chosen from this table.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from machine import summary as machine  # type: ignore[import-not-found]
from sqlalchemy import func, select

from tessera.hashing.video import DEFAULT_SECONDS_PER_HASH, match_videos, vpdq_frames
from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.records import VideoFrame
from tessera.store.case import init_case
from tessera.store.models_video import VideoFrameRow
from tessera.synth.videos import VideoSpec, write_video

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "video"
SAMPLE = HERE.parent.parent / "shared" / "conformance" / "vpdq" / "videos"
SAMPLINGS = (0.0, 0.25, 0.5, 1.0, 2.0)


def make_videos(n: int, seconds: float) -> tuple[Path, list[tuple[Path, Path, Path]]]:
    """Originals in OUT/orig, traded copies in OUT/traded: (original, re-encoded, clip) per video."""
    orig, traded = OUT / "orig", OUT / "traded"
    marker = OUT / f".complete-{n}-{seconds}"
    triples = []
    for i in range(n):
        spec = VideoSpec(seed=7000 + i, seconds=seconds, fps=30, width=1280, height=720, scene_seconds=2.0)
        a, b, c = orig / f"v{i}.mp4", traded / f"v{i}-small.mp4", traded / f"v{i}-clip.mp4"
        if not marker.exists():
            write_video(a, spec, crf=23)
            write_video(b, spec, size=(640, 360), crf=32)
            write_video(c, spec, start_seconds=seconds * 0.3, end_seconds=seconds * 0.7, crf=26)
        triples.append((a, b, c))
    marker.touch()
    return orig, triples


def peer(paths: list[Path]) -> tuple[int, float]:
    import vpdq

    t0 = time.perf_counter()
    frames = sum(len(vpdq.computeHash(str(p), seconds_per_hash=0)) for p in paths)
    return frames, time.perf_counter() - t0


def tessera_ingest(folder: Path, sampling: float) -> tuple[int, float]:
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        case = init_case(Path(tmp) / "case", "bench", "BENCH")
        t0 = time.perf_counter()
        ingest(case, folder, IngestOptions("BENCH", workers=2, video_seconds_per_hash=sampling))
        elapsed = time.perf_counter() - t0
        with case.session() as s:
            frames = int(s.scalar(select(func.count()).select_from(VideoFrameRow)) or 0)
        case.engine.dispose()
    return frames, elapsed


def _reference(path: Path) -> list[VideoFrame]:
    """Meta's own frame hashes of a sample video (every frame), as shipped with the conformance data."""
    out = []
    for line in (SAMPLE.parent / "hashes" / f"{path.stem}.txt").read_text().splitlines():
        frame, quality, pdq, seconds = line.split(",")
        out.append(VideoFrame(int(frame), int(quality), pdq, float(seconds)))
    return out


def sweep(
    pairs: list[tuple[Path, Path]], unrelated: list[tuple[Path, Path]], refs: dict[Path, list[VideoFrame]]
) -> list[tuple[float, float, float, float, float]]:
    """Per sampling: (hash s per video-second, worst compared% vs every-frame set, worst vs a set sampled
    the same way, closest unrelated compared%). ``pairs``: (case-side copy, known original)."""
    rows = []
    for s in SAMPLINGS:
        t0 = time.perf_counter()
        copies = {c: vpdq_frames(c, s, threads=1) for c, _ in pairs + unrelated}
        hashed = time.perf_counter() - t0
        video_seconds = sum((f[-1].seconds if f else 0.0) for f in copies.values()) or 1.0
        same = {k: vpdq_frames(k, s, threads=1) for _, k in pairs + unrelated}
        every = min(match_videos(copies[c], refs[k]).compared_percent for c, k in pairs)
        sampled = min(match_videos(copies[c], same[k]).compared_percent for c, k in pairs)
        other = max(match_videos(copies[c], refs[k]).compared_percent for c, k in unrelated)
        rows.append((s, hashed / video_seconds, every, sampled, other))
        print(f"sampling {s}: {rows[-1]}", file=sys.stderr)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    orig, triples = make_videos(args.videos, args.seconds)
    print(f"generated videos in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    folders = [("generated 1280x720 30 fps", orig)]
    if SAMPLE.is_dir():
        local = OUT / "sample"
        if not local.exists():
            shutil.copytree(SAMPLE, local)  # a copy, so the bench never reads shared data as a case source
        folders.insert(0, ("vPDQ sample videos", local))
    thru = []
    for label, folder in folders:
        paths = sorted(folder.glob("*.mp4"))
        p_frames, p_time = peer(paths)
        t_frames, t_time = tessera_ingest(folder, 0.0)
        d_frames, d_time = tessera_ingest(folder, DEFAULT_SECONDS_PER_HASH)
        thru.append((label, len(paths), p_frames, p_time, t_frames, t_time, d_frames, d_time))
        print(label, p_frames / p_time, t_frames / t_time, d_time, file=sys.stderr)
    pairs = [(b, a) for a, b, _ in triples]  # traded copy (smaller, lower quality) vs original
    pairs += [(a, c) for a, _, c in triples]  # a known clip inside the whole video
    refs = {k: vpdq_frames(k, 0.0) for _, k in pairs}
    unrelated = [(triples[i][1], triples[(i + 1) % len(triples)][0]) for i in range(len(triples))]
    if SAMPLE.is_dir():
        local = OUT / "sample"
        chair, pattern = local / "chair-orig-22-sd-bar.mp4", local / "pattern-sd-grey-bar.mp4"
        for name in ("chair-22-sd-grey-bar", "chair-20-sd-bar", "chair-22-with-small-logo-bar"):
            pairs.append((local / f"{name}.mp4", chair))
        pairs.append((local / "pattern-sd-with-small-logo-bar.mp4", pattern))
        unrelated.append((local / "doorknob-hd-no-bar.mp4", chair))
        refs[chair], refs[pattern] = _reference(chair), _reference(pattern)
    rows = sweep(pairs, unrelated, refs)

    lines = [
        f"## Video hashing — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"Machine: {machine()}. Command: `python bench/bench_video.py --videos {args.videos} "
        f"--seconds {args.seconds:g}`",
        "",
        "Throughput on the same videos. Peer: `vpdq.computeHash(path, seconds_per_hash=0)` (Meta's bindings, "
        "its own threads). Tessera: `ingest` of the folder, 2 worker processes, one vpdq thread each "
        "(digests, probe, store and match included).",
        "",
        "| videos | frames | vpdq bindings | Tessera, every frame | ratio | Tessera, default "
        f"({DEFAULT_SECONDS_PER_HASH:g} s/hash) |",
        "|---|---|---|---|---|---|",
    ]
    for label, n, pf, pt, tf, tt, df, dt in thru:
        lines.append(
            f"| {label} ({n}) | {pf:,} | {pf / pt:,.0f} frames/s ({pt:.1f} s) | {tf / tt:,.0f} frames/s "
            f"({tt:.1f} s) | **{(tf / tt) / (pf / pt):.2f}x** | {dt:.1f} s, {df:,} frame hashes |"
        )
    lines += [
        "",
        f"Sampling: {len(pairs)} (copy, known) pairs: generated videos re-encoded smaller at lower quality "
        "and known clips inside whole videos, and vPDQ's sample videos against Meta's reference hashes of "
        "chair-orig-22-sd-bar / pattern-sd-grey-bar (every frame). vPDQ's rule: compared% >= 80 is a match.",
        "",
        "| seconds per hash | hashing s per video-second (1 thread) | worst compared%, known set hashed "
        "every frame | worst compared%, known set sampled the same | closest unrelated compared% |",
        "|---|---|---|---|---|",
    ]
    for s, per, every, sampled, other in rows:
        lines.append(f"| {s:g} | {per:.3f} | {every:.0f} | {sampled:.0f} | {other:.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.record:
        with (HERE / "RESULTS.md").open("a") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
