"""A video's thumbnail: a contact sheet of keyframes, decoded with PyAV from the verified bytes.

A video is never played in the workstation. Its tile is a grid of still frames, keyframes where the
video has enough of them (they decode alone and mark scene changes), otherwise frames evenly spaced in
time. The sheet made here is the *clear* thumbnail; :mod:`tessera.review.thumbs` blurs and grays it
like any image before anything reaches a browser unrevealed.
"""

from __future__ import annotations

import io
import math

from PIL import Image

#: Frames in a sheet (a 3 × 3 grid) and the sheet's size (the thumbnail size).
FRAMES = 9
SHEET_PX = 256
#: Frames decoded at most while looking for evenly spaced ones (bounds the time a request can take).
MAX_DECODED = 20_000


class ContactError(Exception):
    pass


def _keyframes(data: bytes, limit: int) -> tuple[list[tuple[float, Image.Image]], float | None]:
    import av

    out: list[tuple[float, Image.Image]] = []
    with av.open(io.BytesIO(data), mode="r") as container:
        if not container.streams.video:
            raise ContactError("video has no video stream")
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"  # decode only what stands alone: fast on long videos
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        for frame in container.decode(stream):
            out.append((float(frame.time or 0.0), _small(frame.to_image())))
            if len(out) >= limit:
                break
    return out, duration


def _spaced(data: bytes, duration: float, n: int) -> list[tuple[float, Image.Image]]:
    """The first frame at or after each of ``n`` evenly spaced times, in one decoding pass."""
    import av

    targets = [duration * (k + 0.5) / n for k in range(n)]
    out: list[tuple[float, Image.Image]] = []
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        for decoded, frame in enumerate(container.decode(stream)):
            t = float(frame.time or 0.0)
            if t >= targets[len(out)]:
                out.append((t, _small(frame.to_image())))
                if len(out) == n:
                    break
            if decoded >= MAX_DECODED:
                break
    return out


def _small(img: Image.Image) -> Image.Image:
    img = img.convert("RGB")
    img.thumbnail((SHEET_PX, SHEET_PX))
    return img


def _pick(frames: list[tuple[float, Image.Image]], n: int) -> list[tuple[float, Image.Image]]:
    if len(frames) <= n:
        return frames
    return [frames[round(k * (len(frames) - 1) / (n - 1))] for k in range(n)]


def keyframes(data: bytes, n: int = FRAMES) -> list[tuple[float, Image.Image]]:
    """Up to ``n`` (seconds, RGB image) frames of a video's content."""
    import av

    try:
        frames, duration = _keyframes(data, 4096)
        if len(frames) < n and duration:
            spaced = _spaced(data, duration, n)
            frames = spaced if len(spaced) > len(frames) else frames
    except (av.error.FFmpegError, ValueError, IndexError) as exc:
        raise ContactError(f"unreadable video: {exc}") from None
    if not frames:
        raise ContactError("no frame could be decoded")
    return _pick(frames, n)


def sheet(frames: list[tuple[float, Image.Image]]) -> Image.Image:
    """The frames as a square grid on a dark sheet (each fitted into its cell, aspect kept)."""
    cols = max(1, math.ceil(math.sqrt(len(frames))))
    rows = max(1, math.ceil(len(frames) / cols))
    cell_w, cell_h = SHEET_PX // cols, SHEET_PX // rows
    canvas = Image.new("RGB", (SHEET_PX, SHEET_PX), (40, 40, 40))
    for k, (_t, img) in enumerate(frames):
        tile = img.copy()
        tile.thumbnail((cell_w - 2, cell_h - 2))
        x = (k % cols) * cell_w + (cell_w - tile.width) // 2
        y = (k // cols) * cell_h + (cell_h - tile.height) // 2
        canvas.paste(tile, (x, y))
    return canvas


def contact_sheet(data: bytes, n: int = FRAMES) -> Image.Image:
    return sheet(keyframes(data, n))
