"""PDQ against Meta's published vectors (../shared/conformance/pdq), read in place."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageOps

from tessera.hashing import DRAFT_MIN_SIDE, hamming_hex, hash_item, pdq_from_image
from tessera.records import Opener

from .conftest import PDQ_DIR, pdq_rows

ROWS = pdq_rows()


def _row_id(row: dict[str, str]) -> str:
    return f"{row['reference']}:{row['image']}"


@pytest.mark.parametrize("row", ROWS, ids=[_row_id(r) for r in ROWS])
def test_conformance_row_within_tolerance(pdq_dir: Path, row: dict[str, str]) -> None:
    rec = hash_item(Opener(path=str(pdq_dir / "images" / row["image"])))  # production path
    assert rec.error is None and rec.pdq is not None and rec.pdq_quality is not None
    if rec.pdq_quality < 80:
        pytest.skip(f"quality {rec.pdq_quality} < 80: no tolerance defined for this row")
    distance = hamming_hex(rec.pdq, row["pdq_hex"])
    assert distance <= int(row["tolerance"]), f"{rec.pdq} vs {row['pdq_hex']}: {distance} bits"


@pytest.mark.parametrize(
    "row", [r for r in ROWS if r["pipeline"].startswith("python-threatexchange")], ids=_row_id
)
def test_threatexchange_rows_exact_in_both_paths(pdq_dir: Path, row: dict[str, str]) -> None:
    # These images are small, so the fast path must not shrink them: hash and quality are exact
    # regardless of quality (the I;16 row has quality 36).
    path = str(pdq_dir / "images" / row["image"])
    for fast in (True, False):
        rec = hash_item(Opener(path=path), fast_decode=fast)
        assert rec.pdq == row["pdq_hex"]
        assert str(rec.pdq_quality) == row["quality"]


def test_full_resolution_path_meets_every_tolerance(pdq_dir: Path) -> None:
    for row in ROWS:
        rec = hash_item(Opener(path=str(pdq_dir / "images" / row["image"])), fast_decode=False)
        assert rec.pdq is not None and rec.pdq_quality is not None
        if rec.pdq_quality >= 80:
            assert hamming_hex(rec.pdq, row["pdq_hex"]) <= int(row["tolerance"]), row["image"]


def test_colour_modes_hash_like_the_original(pdq_dir: Path) -> None:
    modes = pdq_dir / "images" / "misc-images" / "modes"
    original = hash_item(Opener(path=str(modes / "original.jpg")))
    assert original.pdq is not None
    for path in sorted(modes.iterdir()):
        rec = hash_item(Opener(path=str(path)))
        assert rec.error is None, (path.name, rec.error)
        assert rec.pdq is not None and rec.pdq_quality == 100, path.name
        assert hamming_hex(rec.pdq, original.pdq) <= 10, path.name


def test_pdq_is_computed_before_exif_orientation(pdq_dir: Path) -> None:
    # expected.csv has no exif-rotn rows; the four files are different scenes. Our decision (as
    # python-threatexchange): hash the stored pixels, record the orientation in EXIF.
    folder = pdq_dir / "images" / "reg-test-input" / "exif-rotn"
    for n in (1, 3, 6, 8):
        path = folder / f"exif-rotn-{n}.jpg"
        rec = hash_item(Opener(path=str(path)))
        assert rec.exif is not None and rec.exif.orientation == n
        with Image.open(path) as im:
            assert (rec.width, rec.height) == im.size == (4032, 3024)  # stored, not displayed, size
            im.draft("RGB", (DRAFT_MIN_SIDE, DRAFT_MIN_SIDE))  # same pixels as the fast path
            im.load()
            stored = pdq_from_image(im)[0]
            upright = pdq_from_image(ImageOps.exif_transpose(im))[0]
        assert rec.pdq == stored
        if n != 1:
            assert hamming_hex(rec.pdq, upright) > 31


def test_data_dir_resolution_is_relative_to_repo() -> None:
    assert PDQ_DIR.parts[-2:] == ("conformance", "pdq")
