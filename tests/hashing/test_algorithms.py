from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tessera.hashing import (
    ALGORITHMS,
    bytes_to_hex,
    hamming_hex,
    hamming_matrix,
    pdq_hex_to_array,
    pdq_hex_to_bytes,
)


def test_permanent_names_and_shapes() -> None:
    assert ALGORITHMS.names() == ["md5", "pdq", "photodna", "sha1", "sha256", "vpdq"]
    assert [(ALGORITHMS.get(n).hex_length, ALGORITHMS.get(n).perceptual) for n in ALGORITHMS.names()] == [
        (32, False),
        (64, True),
        (None, True),
        (40, False),
        (64, False),
        (64, True),
    ]
    assert ALGORITHMS.get("pdq").default_threshold == 31
    assert ALGORITHMS.get("sha256").default_threshold == 0


def test_distances() -> None:
    md5 = ALGORITHMS.get("md5")
    assert md5.distance("a" * 32, "A" * 32) == 0
    assert md5.distance("a" * 32, "b" * 32) == math.inf
    pdq = ALGORITHMS.get("pdq")
    assert pdq.distance("0" * 64, "f" * 64) == 256
    assert pdq.distance("0" * 63 + "3", "0" * 64) == 2
    with pytest.raises(ValueError):
        pdq.distance("0" * 64, "0" * 32)


def test_normalise() -> None:
    assert ALGORITHMS.get("sha1").normalise(" " + "AB" * 20 + "\n") == "ab" * 20
    with pytest.raises(ValueError, match="sha1"):
        ALGORITHMS.get("sha1").normalise("ab" * 19)
    with pytest.raises(ValueError):
        ALGORITHMS.get("md5").normalise("g" * 32)


def test_hex_bytes_round_trip_most_significant_first() -> None:
    h = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22"
    b = pdq_hex_to_bytes(h)
    assert len(b) == 32 and b[0] == 0xD8 and bytes_to_hex(b) == h
    with pytest.raises(ValueError):
        pdq_hex_to_bytes("abcd")


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def test_hamming_matrix_matches_scalar_on_haystack(pdq_dir: Path) -> None:
    haystack = _lines(pdq_dir / "haystack.txt")
    needles = _lines(pdq_dir / "needles.txt")
    assert len(haystack) == 1350 and len(needles) == 100
    hay, nee = pdq_hex_to_array(haystack), pdq_hex_to_array(needles)
    assert hay.shape == (1350, 32) and hay.dtype == np.uint8
    dist = hamming_matrix(nee, hay, block=7)
    assert dist.shape == (100, 1350)
    rng = np.random.default_rng(0)
    for i, j in zip(rng.integers(0, 100, 300), rng.integers(0, 1350, 300), strict=True):
        assert dist[i, j] == hamming_hex(needles[i], haystack[j])
    # Nearest-neighbour sanity: every needle's best match agrees with a brute-force scalar scan.
    for i in range(0, 100, 10):
        best = min(hamming_hex(needles[i], h) for h in haystack)
        assert dist[i].min() == best
    assert hamming_matrix(hay[0], hay).shape == (1, 1350)
    assert hamming_matrix(hay[0], hay)[0, 0] == 0


def test_empty_array() -> None:
    assert pdq_hex_to_array([]).shape == (0, 32)
