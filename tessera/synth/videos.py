"""Generated abstract videos: scenes of gradients and shapes that drift slowly. Nothing is depicted.

Encoded with PyAV (its wheels carry their own FFmpeg), deterministic by seed. A "scene" is one
:func:`~tessera.synth.images.abstract_image` panned a little each frame, so neighbouring frames are
near-identical (as in real footage) and scene changes give vPDQ distinct frames to count.
Variants model what happens to a video as it is traded: re-encoded at another size and bitrate,
trimmed, or cut from a longer video; :func:`still_image` is one frame as a photo would capture it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tessera.synth.images import abstract_image


@dataclass(frozen=True, slots=True)
class VideoSpec:
    seed: int
    seconds: float = 4.0
    fps: int = 10
    width: int = 320
    height: int = 240
    scene_seconds: float = 1.0


def _scene(seed: int, k: int, width: int, height: int) -> np.ndarray:
    # A scene is drawn a little larger than the frame so panning never shows a wrapped edge.
    return np.asarray(abstract_image(seed * 1009 + k, width + 64, height + 64))


def frames(spec: VideoSpec) -> Iterator[np.ndarray]:
    """The video's frames (RGB arrays) at the spec's own size, before encoding."""
    total = round(spec.seconds * spec.fps)
    per_scene = max(1, round(spec.scene_seconds * spec.fps))
    scene: np.ndarray | None = None
    for i in range(total):
        k, j = divmod(i, per_scene)
        if j == 0 or scene is None:
            scene = _scene(spec.seed, k, spec.width, spec.height)
        dx = min(63, j * 2)
        yield np.ascontiguousarray(scene[dx // 2 : dx // 2 + spec.height, dx : dx + spec.width])


def encode_video(
    spec: VideoSpec,
    *,
    size: tuple[int, int] | None = None,
    crf: int = 23,
    start_seconds: float = 0.0,
    end_seconds: float | None = None,
    codec: str = "libx264",
    container: str = "mp4",
) -> bytes:
    """Encode the spec's frames, optionally resized, trimmed to [start, end) and at another quality."""
    import av  # imported here: only generators of test data need PyAV

    width, height = size or (spec.width, spec.height)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=spec.fps)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": str(crf), "preset": "veryfast"}
        first = round(start_seconds * spec.fps)
        last = round((end_seconds if end_seconds is not None else spec.seconds) * spec.fps)
        for i, arr in enumerate(frames(spec)):
            if not first <= i < last:
                continue
            img = Image.fromarray(arr)
            if (width, height) != (spec.width, spec.height):
                img = img.resize((width, height), Image.Resampling.BILINEAR)
            frame = av.VideoFrame.from_image(img)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def write_video(path: Path, spec: VideoSpec, **variant: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_video(spec, **variant))  # type: ignore[arg-type]  # variants as encode_video
    return path


def still_image(spec: VideoSpec, at_seconds: float) -> Image.Image:
    """The frame shown at ``at_seconds``, as a photo or screenshot of the video would hold it."""
    wanted = min(round(at_seconds * spec.fps), round(spec.seconds * spec.fps) - 1)
    for i, arr in enumerate(frames(spec)):
        if i == wanted:
            return Image.fromarray(arr)
    raise ValueError(f"no frame at {at_seconds} s")


def corrupt_video(spec: VideoSpec, keep: float = 0.3) -> bytes:
    """An mp4 cut short (an interrupted download): the header promises more than is there."""
    data = encode_video(spec)
    return data[: max(64, int(len(data) * keep))]


@dataclass
class VideoScenario:
    """A device folder with videos, and known-material sets describing some of them."""

    root: Path
    known_vpdq: Path  # tessera-vpdq JSON Lines of the known videos (as first encoded)
    known_stills: Path  # a plain PDQ list holding one still taken from a known video
    #: locator -> what it should match: "vpdq" (a known video re-encoded, zipped, or a known clip inside
    #: a longer video), "pdq" (a frame equals the known still), None (unrelated or unreadable)
    expect: dict[str, str | None]
    corrupt: str  # locator of the cut-short video


def video_scenario(base: Path, seconds_per_hash: float = 0.0) -> VideoScenario:
    """Three known videos and their traded forms on a phone-like tree, plus the known sets.

    The known sets are hashed from the first encodings with vpdq itself (as a partner agency would
    have done); the device holds re-encoded, resized, clipped and zipped copies.
    """
    import json
    import zipfile

    from tessera.hashing.image import analyse_image
    from tessera.hashing.video import vpdq_frames
    from tessera.synth.images import encode

    known = [VideoSpec(seed=101), VideoSpec(seed=102, seconds=6.0), VideoSpec(seed=103)]
    ref_dir = base / "reference"
    lines = []
    for i, spec in enumerate(known[:2]):
        # The second known video is a clip (1-4 s) of a longer video the device holds whole.
        cut = {"start_seconds": 1.0, "end_seconds": 4.0} if i == 1 else {}
        ref = write_video(ref_dir / f"known{i}.mp4", spec, **cut)
        frames = vpdq_frames(ref, seconds_per_hash)
        lines.append(
            json.dumps(
                {
                    "id": f"KV-{i:04d}",
                    "category": 1 + i,
                    "series": f"SYN-S{i}",
                    "frames": [f"{f.frame},{f.quality},{f.pdq},{f.seconds:.3f}" for f in frames],
                }
            )
        )
    known_vpdq = base / "known-videos.jsonl"
    known_vpdq.write_text("\n".join(lines) + "\n")
    still = analyse_image(encode(still_image(known[2], 2.05), "PNG"))
    known_stills = base / "known-stills.txt"
    known_stills.write_text(f"# still from a known video\n{still.pdq}\n")

    root = base / "device"
    expect: dict[str, str | None] = {}

    def put(rel: str, data: bytes, what: str | None) -> None:
        path = root / rel.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        expect[rel] = what

    put("/DCIM/Camera/VID_0001.mp4", encode_video(known[0], size=(240, 180), crf=30), "vpdq")
    put(
        "/WhatsApp/Media/WhatsApp Video/VID-0002.mp4",
        encode_video(known[1], crf=27),
        "vpdq",
    )
    put("/DCIM/Camera/VID_0003.mp4", encode_video(known[2], crf=28), "pdq")
    put("/Movies/other.mp4", encode_video(VideoSpec(seed=150)), None)
    corrupt = "/Download/partial.mp4"
    put(corrupt, corrupt_video(VideoSpec(seed=151)), None)
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as zf:
        zf.writestr("clips/known0-copy.mp4", encode_video(known[0], crf=26))
    put("/Download/clips.zip", zbuf.getvalue(), None)
    expect["/Download/clips.zip!/clips/known0-copy.mp4"] = "vpdq"
    return VideoScenario(root, known_vpdq, known_stills, expect, corrupt)
