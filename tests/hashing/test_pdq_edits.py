"""Acceptance at hashing level: edited copies match their original; unrelated images do not."""

from __future__ import annotations

import itertools

import pytest

from tessera.hashing import PDQ_MATCH_DISTANCE, PDQ_MIN_QUALITY, hamming_hex, hash_item
from tessera.records import MediaRecord, Opener
from tessera.synth.images import SIZE_MESSENGER, edits, encode, photo_image

SEEDS = range(8)


def _hash(data: bytes, fast: bool) -> MediaRecord:
    rec = hash_item(Opener(data=data), fast_decode=fast)
    assert rec.error is None and rec.pdq is not None
    return rec


@pytest.fixture(scope="module")
def originals() -> dict[int, tuple[bytes, MediaRecord, MediaRecord]]:
    out = {}
    for seed in SEEDS:
        data = encode(photo_image(seed, *SIZE_MESSENGER), "JPEG", quality=90)
        out[seed] = (data, _hash(data, True), _hash(data, False))
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_every_edit_that_the_reference_matches_is_matched(
    seed: int, originals: dict[int, tuple[bytes, MediaRecord, MediaRecord]]
) -> None:
    _, fast_orig, full_orig = originals[seed]
    assert full_orig.pdq is not None and fast_orig.pdq is not None
    checked = 0
    for name, img in edits(photo_image(seed, *SIZE_MESSENGER)).items():
        data = encode(img, "JPEG", quality=95)
        full, fast = _hash(data, False), _hash(data, True)
        assert full.pdq is not None and fast.pdq is not None and fast.pdq_quality is not None
        reference_distance = hamming_hex(full_orig.pdq, full.pdq)
        if reference_distance <= PDQ_MATCH_DISTANCE and fast.pdq_quality >= PDQ_MIN_QUALITY:
            checked += 1
            ours = hamming_hex(fast_orig.pdq, fast.pdq)
            assert ours <= PDQ_MATCH_DISTANCE, f"{name}: {ours} bits (reference {reference_distance})"
    assert checked == 6  # the default edits are all within PDQ's reach on these images


def test_unrelated_images_do_not_match(originals: dict[int, tuple[bytes, MediaRecord, MediaRecord]]) -> None:
    for a, b in itertools.combinations(SEEDS, 2):
        ha, hb = originals[a][1].pdq, originals[b][1].pdq
        assert ha is not None and hb is not None
        assert hamming_hex(ha, hb) > PDQ_MATCH_DISTANCE, (a, b)


def test_fast_and_full_decode_agree_closely(
    originals: dict[int, tuple[bytes, MediaRecord, MediaRecord]],
) -> None:
    for _, fast, full in originals.values():
        assert fast.pdq is not None and full.pdq is not None
        assert hamming_hex(fast.pdq, full.pdq) <= 10
        assert (fast.width, fast.height) == (full.width, full.height) == SIZE_MESSENGER
