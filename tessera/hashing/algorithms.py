"""Hash algorithms under permanent names, and the PDQ byte/array helpers indexes use.

Names are persisted (hash-set entries, matches), so they are never renamed or reused. Distances:
Hamming for perceptual hashes, 0 or infinity for exact ones, so callers can compare any algorithm's
distance against a per-hash-set threshold (0 for exact, 31 for PDQ by default).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tessera.plugins import Registry

PDQ_BITS = 256
PDQ_BYTES = PDQ_BITS // 8
#: Default PDQ match threshold (SPEC "Hashing and matching"; Meta's recommendation).
PDQ_MATCH_DISTANCE = 31
#: PDQ hashes below this quality are stored but not matched.
PDQ_MIN_QUALITY = 50

_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class HashAlgorithm:
    name: str
    hex_length: int
    perceptual: bool
    #: Largest distance that counts as a match unless a hash set overrides it.
    default_threshold: int
    _distance: Callable[[str, str], float]

    def distance(self, a_hex: str, b_hex: str) -> float:
        """Hamming distance (perceptual) or 0 / ``math.inf`` (exact) between two hex values."""
        return self._distance(a_hex, b_hex)

    def normalise(self, value: str) -> str:
        """Lower-case hex of the right length, or ``ValueError`` naming the algorithm."""
        text = value.strip().lower()
        if len(text) != self.hex_length or not _HEX.issuperset(text):
            raise ValueError(f"not a {self.name} value ({self.hex_length} hex digits): {value!r}")
        return text


def _exact(a_hex: str, b_hex: str) -> float:
    return 0 if a_hex.strip().lower() == b_hex.strip().lower() else math.inf


def hamming_hex(a_hex: str, b_hex: str) -> int:
    """Hamming distance between two equal-length hex strings."""
    if len(a_hex) != len(b_hex):
        raise ValueError(f"hash lengths differ: {len(a_hex)} vs {len(b_hex)} hex digits")
    return (int(a_hex, 16) ^ int(b_hex, 16)).bit_count()


ALGORITHMS: Registry[HashAlgorithm] = Registry("hash algorithm")

for _algo in (
    HashAlgorithm("md5", 32, False, 0, _exact),
    HashAlgorithm("sha1", 40, False, 0, _exact),
    HashAlgorithm("sha256", 64, False, 0, _exact),
    HashAlgorithm("pdq", 64, True, PDQ_MATCH_DISTANCE, hamming_hex),
):
    ALGORITHMS.register(_algo.name)(_algo)


# --- PDQ as bytes and arrays (the 32-byte uint8 form faiss binary indexes use) --------------------


def pdq_hex_to_bytes(hex_str: str) -> bytes:
    """32 bytes, first byte = first two hex digits (the most significant bits, as printed)."""
    data = bytes.fromhex(hex_str.strip())
    if len(data) != PDQ_BYTES:
        raise ValueError(f"PDQ hash must be {PDQ_BYTES * 2} hex digits, got {len(hex_str.strip())}")
    return data


def bytes_to_hex(data: bytes) -> str:
    return bytes(data).hex()


def pdq_hex_to_array(hexes: Iterable[str]) -> npt.NDArray[np.uint8]:
    """An ``(n, 32)`` uint8 array of PDQ hashes, one row per hash (faiss ``IndexBinary`` layout)."""
    rows = [pdq_hex_to_bytes(h) for h in hexes]
    if not rows:
        return np.zeros((0, PDQ_BYTES), np.uint8)
    return np.frombuffer(b"".join(rows), np.uint8).reshape(-1, PDQ_BYTES)


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], np.uint8)


def _popcount(x: npt.NDArray[np.uint8]) -> npt.NDArray[np.integer]:
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0: a native popcount
        return np.bitwise_count(x)
    return _POPCOUNT[x]


def hamming_matrix(
    queries: npt.NDArray[np.uint8], base: npt.NDArray[np.uint8], *, block: int = 1024
) -> npt.NDArray[np.int32]:
    """All pairwise Hamming distances, ``(m, n)`` int32, between rows of two uint8 arrays.

    ``queries`` may be a single hash of shape ``(32,)`` (result shape ``(1, n)``). Queries are
    processed in blocks so the temporary XOR array stays at ``block * n * 32`` bytes.
    """
    q = np.atleast_2d(np.asarray(queries, np.uint8))
    b = np.asarray(base, np.uint8)
    if q.shape[1] != b.shape[1]:
        raise ValueError(f"hash widths differ: {q.shape[1]} vs {b.shape[1]} bytes")
    out = np.empty((q.shape[0], b.shape[0]), np.int32)
    for start in range(0, q.shape[0], block):
        x = np.bitwise_xor(q[start : start + block, None, :], b[None, :, :])
        out[start : start + block] = _popcount(x).sum(axis=2, dtype=np.int32)
    return out
