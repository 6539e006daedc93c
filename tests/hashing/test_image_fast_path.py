"""The 12-MP photo path: one decode at libjpeg's smallest DCT scale, from the buffer already digested."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from tessera.hashing import hamming_hex, hash_item, pdq_from_image
from tessera.records import Opener
from tessera.synth.images import SIZE_12MP, invented_exif, photo_jpeg


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("photo") / "IMG_0001.jpg"
    path.write_bytes(photo_jpeg(41, *SIZE_12MP, quality=94, exif=invented_exif(41)))
    return path


def test_twelve_megapixels_decode_at_one_eighth(photo: Path) -> None:
    # 1/8 is the smallest scale libjpeg decodes to (DC coefficients only): anything larger
    # costs an inverse DCT and colour conversion on pixels PDQ throws away.
    rec = hash_item(Opener(path=str(photo)))
    with Image.open(photo) as im:
        im.draft("RGB", (im.width // 8, im.height // 8))
        assert im.size == (SIZE_12MP[0] // 8, SIZE_12MP[1] // 8)
        im.load()
        assert rec.pdq == pdq_from_image(im)[0]
    assert (rec.width, rec.height) == SIZE_12MP


def test_digests_and_facts_come_from_one_read(photo: Path) -> None:
    data = photo.read_bytes()
    from_path, from_bytes = hash_item(Opener(path=str(photo))), hash_item(Opener(data=data))
    assert from_path == from_bytes
    assert (from_path.md5, from_path.sha1, from_path.sha256) == (
        hashlib.md5(data).hexdigest(),
        hashlib.sha1(data).hexdigest(),
        hashlib.sha256(data).hexdigest(),
    )
    assert from_path.exif is not None and from_path.exif.make == "Acme Synthetic"


def test_full_decode_is_python_threatexchange_and_fast_path_is_close(photo: Path) -> None:
    pdq_signal = pytest.importorskip("threatexchange.signal_type.pdq.signal")
    reference = pdq_signal.PdqSignal.hash_from_file(photo)
    full = hash_item(Opener(path=str(photo)), fast_decode=False)
    fast = hash_item(Opener(path=str(photo)))
    assert full.pdq == reference  # same pixels, same hasher: bit-identical
    assert fast.pdq is not None and hamming_hex(fast.pdq, reference) <= 10
    with Image.open(io.BytesIO(photo.read_bytes())) as im:
        assert full.pdq == pdq_from_image(im.convert("RGB"))[0]
