"""``hash_item``: from an :class:`~tessera.records.Opener` to a :class:`~tessera.records.MediaRecord`."""

from __future__ import annotations

from tessera.hashing.digest import digest_bytes, read_path
from tessera.hashing.magic import HEAD_SIZE, sniff
from tessera.hashing.video import VideoOptions, analyse_video
from tessera.records import MediaRecord, Opener


def hash_item(
    opener: Opener, *, fast_decode: bool = True, perceptual: bool = True, video: VideoOptions | None = None
) -> MediaRecord:
    """Digests, type and (for images) dimensions, PDQ and EXIF of one item.

    The bytes are read once (plain files read-only, O_NOATIME where permitted): files up to
    ``digest.MAX_IN_MEMORY`` are held in memory and the same buffer is hashed, sniffed and decoded;
    larger ones are streamed through the digests and, if they are images, decoded from the path.
    Non-media files stop after digests and sniffing, so per-file overhead stays small.

    Image problems (truncated, corrupt, unsupported, decompression bomb) never raise: the record
    comes back with digests filled and ``error`` set. ``OSError`` from reading a path is raised,
    since there is no content to describe.

    ``fast_decode`` enables DCT-scaled decoding for PDQ (see ``tessera.hashing.image``);
    ``perceptual=False`` skips the pixel decode (size and EXIF are still read from the header).
    Videos get vPDQ frame hashes as ``video`` says (see ``tessera.hashing.video``); with
    ``perceptual=False`` only their dimensions and duration.
    """
    if opener.data is not None:
        data: bytes | None = opener.data
        digests = digest_bytes(opener.data)
        head = opener.data[:HEAD_SIZE]
    elif opener.path is not None:
        digests, data, head = read_path(opener.path)
    else:
        raise ValueError("opener has neither path nor data")
    mime, kind = sniff(head)
    record = MediaRecord(
        sha256=digests.sha256,
        md5=digests.md5,
        sha1=digests.sha1,
        size=digests.size,
        mime=mime,
        kind=kind,
    )
    if kind == "image":
        # Imported with the first image (numpy, Pillow, pdqhash: about 0.15 s), so a process that
        # only meets other files never loads them.
        from tessera.hashing.image import analyse_image

        source = data if data is not None else opener.path
        assert source is not None  # a path opener whose file was too big to hold in memory
        facts = analyse_image(source, fast_decode=fast_decode, perceptual=perceptual)
        record.width, record.height = facts.width, facts.height
        record.pdq, record.pdq_quality = facts.pdq, facts.pdq_quality
        record.exif = facts.exif
        record.error = facts.error
    elif kind == "video":
        video = video or VideoOptions()
        if not perceptual:
            video = VideoOptions(enabled=False)
        vsource = data if data is not None else opener.path
        assert vsource is not None
        vfacts = analyse_video(vsource, video)
        record.width, record.height, record.duration = vfacts.width, vfacts.height, vfacts.duration
        record.frames, record.error = vfacts.frames, vfacts.error
    return record
