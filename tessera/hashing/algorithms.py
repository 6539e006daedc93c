"""The hash-algorithm axis: one definition per algorithm, the only place its numbers and names live.

Modelled on python-threatexchange's ``SignalType``: each :class:`HashAlgorithm` owns how its values
are written (validation and the canonical lower-case hex), its default match threshold and minimum
quality, its hex-to-bits conversion, the index class that matches it, and its column names in the
exchange formats (VICS, ICSE, headed CSV). Hash sets, matching, the hub, review clusters, item
grouping and the store ask :data:`ALGORITHMS` rather than repeating tuples of names or PDQ limits.

Names are persisted (hash-set entries, matches), so they are never renamed or reused. Distances:
Hamming for perceptual hashes, 0 or infinity for exact ones, so callers can compare any algorithm's
distance against a per-hash-set threshold (0 for exact, 31 for PDQ by default). See docs/hashing.md,
"Adding a hash algorithm".
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from tessera.plugins import Registry

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

PDQ_BITS = 256
PDQ_BYTES = PDQ_BITS // 8
#: Default PDQ match threshold (SPEC "Hashing and matching"; Meta's recommendation).
PDQ_MATCH_DISTANCE = 31
#: PDQ hashes below this quality are stored but not matched.
PDQ_MIN_QUALITY = 50

_HEX = frozenset("0123456789abcdef")

#: How an algorithm's values are matched: by the database's (algorithm, value) index, by Hamming
#: distance over PDQ bits, by vPDQ's frame-set rule, or not at all (kept, never matched).
Matching = Literal["exact", "pdq", "vpdq", "none"]

_INDEX_CLASSES: dict[str, str] = {
    "exact": "tessera.matching.exact:ExactIndex",
    "pdq": "tessera.matching.pdq:PdqIndex",
    "vpdq": "tessera.matching.video:VideoIndex",
}


@dataclass(frozen=True, slots=True)
class HashAlgorithm:
    name: str
    #: Hex digits of a value; None for a value kept opaque (PhotoDNA: proprietary, never computed).
    hex_length: int | None
    perceptual: bool
    #: Largest distance that counts as a match unless a hash set overrides it.
    default_threshold: int
    _distance: Callable[[str, str], float]
    #: How people write the name in messages ("SHA-256").
    label: str = ""
    #: Values of lower quality are stored but not matched (0: every value is usable).
    min_quality: int = 0
    matching: Matching = "exact"
    #: Exchange format -> column (or field) name: "vics" (a media field, or for SHA-256 and PDQ, which
    #: have none in VICS 1.x, a ``HashName`` in ``AlternativeHashes``), "icse" and "csv" (header
    #: names), "case_uco" (UCO's HashNameVocab: only names in it pass case_validate).
    columns: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: The ``media`` column holding a case item's value of this algorithm, if the store keeps one.
    media_column: str | None = None
    #: Position in listings (the order one item's entries are read and written in).
    rank: int = 0

    @property
    def byte_length(self) -> int | None:
        """Bytes of a value in binary form (a compact store keeps digests as bytes); None when opaque."""
        return None if self.hex_length is None else self.hex_length // 2

    def distance(self, a_hex: str, b_hex: str) -> float:
        """Hamming distance (perceptual) or 0 / ``math.inf`` (exact) between two hex values."""
        return self._distance(a_hex, b_hex)

    def normalise(self, value: str) -> str:
        """The canonical form (lower-case hex of the right length), or ``ValueError`` naming the algorithm.

        An opaque value is only stripped: it is kept exactly as given otherwise.
        """
        text = value.strip()
        if self.hex_length is None:
            if not text:
                raise ValueError(f"empty {self.name} value")
            return text
        text = text.lower()
        if len(text) != self.hex_length or not _HEX.issuperset(text):
            raise ValueError(f"not a {self.name} value ({self.hex_length} hex digits): {value!r}")
        return text

    def usable(self, quality: int | None) -> bool:
        """Whether a value of this quality is matched (None, an unknown quality, counts as 0)."""
        return (quality if quality is not None else 0) >= self.min_quality

    def threshold(self, override: int | None = None) -> int:
        """A hash set's own threshold when it has one, else this algorithm's default."""
        return self.default_threshold if override is None else override

    def to_bits(self, hexes: Iterable[str]) -> npt.NDArray[np.uint8]:
        """An ``(n, hex_length / 2)`` uint8 array, one row per value, bytes in the order printed.

        For PDQ this is the 32-byte row layout faiss binary indexes and :class:`PdqIndex` use (the first
        byte holds the first two hex digits, the most significant bits).
        """
        if self.hex_length is None:
            raise ValueError(f"{self.name} values are opaque: they have no bit form")
        width = self.hex_length // 2
        values = hexes if isinstance(hexes, list | tuple) else list(hexes)
        try:
            parts = [bytes.fromhex(h) for h in values]
        except ValueError:
            bad_hex = next(i for i, h in enumerate(values) if not _HEX.issuperset(h.strip().lower()))
            raise ValueError(
                f"{self.name} value {bad_hex + 1} is not hex: {values[bad_hex][:80]!r}"
            ) from None
        if any(map(width.__ne__, map(len, parts))):
            bad = next(i for i, p in enumerate(parts) if len(p) != width)
            raise ValueError(
                f"{self.name} value {bad + 1} is {len(parts[bad]) * 2} hex digits, not {self.hex_length}"
            )
        import numpy as np  # here, not at load: the CLI, the store and the hub start without numpy

        # A copy, so the array is writable and owns its memory (indexes may keep it).
        return np.frombuffer(b"".join(parts), np.uint8).reshape(-1, width).copy()

    def index_class(self) -> type:
        """The class that matches values of this algorithm (imported on demand: matching imports us)."""
        path = _INDEX_CLASSES.get(self.matching)
        if path is None:
            raise LookupError(f"{self.name} values are kept, never matched: there is no index")
        module, _, cls = path.partition(":")
        found: type = getattr(importlib.import_module(module), cls)
        return found


def _exact(a_hex: str, b_hex: str) -> float:
    return 0 if a_hex.strip().lower() == b_hex.strip().lower() else math.inf


def _opaque(a: str, b: str) -> float:
    return 0 if a.strip() == b.strip() else math.inf


def hamming_hex(a_hex: str, b_hex: str) -> int:
    """Hamming distance between two equal-length hex strings."""
    if len(a_hex) != len(b_hex):
        raise ValueError(f"hash lengths differ: {len(a_hex)} vs {len(b_hex)} hex digits")
    return (int(a_hex, 16) ^ int(b_hex, 16)).bit_count()


def _columns(**names: str) -> Mapping[str, str]:
    return MappingProxyType(dict(names))


ALGORITHMS: Registry[HashAlgorithm] = Registry("hash algorithm")

for _algo in (
    HashAlgorithm(
        name="md5",
        hex_length=32,
        perceptual=False,
        default_threshold=0,
        _distance=_exact,
        label="MD5",
        media_column="md5",
        rank=10,
        columns=_columns(vics="MD5", icse="MD5", csv="md5", case_uco="MD5"),
    ),
    HashAlgorithm(
        name="sha1",
        hex_length=40,
        perceptual=False,
        default_threshold=0,
        _distance=_exact,
        label="SHA-1",
        media_column="sha1",
        rank=20,
        columns=_columns(vics="SHA1", icse="SHA1", csv="sha1", case_uco="SHA1"),
    ),
    # SHA-256 and PDQ have no media field of their own in VICS 1.x: they travel in AlternativeHashes.
    HashAlgorithm(
        name="sha256",
        hex_length=64,
        perceptual=False,
        default_threshold=0,
        _distance=_exact,
        label="SHA-256",
        media_column="sha256",
        rank=30,
        columns=_columns(vics="SHA256", csv="sha256", case_uco="SHA256"),
    ),
    HashAlgorithm(
        name="pdq",
        hex_length=64,
        perceptual=True,
        default_threshold=PDQ_MATCH_DISTANCE,
        _distance=hamming_hex,
        label="PDQ",
        min_quality=PDQ_MIN_QUALITY,
        matching="pdq",
        media_column="pdq",
        rank=40,
        columns=_columns(vics="PDQ", csv="pdq"),
    ),
    # Proprietary and never computed: kept exactly as given, only emptiness checked, never matched.
    HashAlgorithm(
        name="photodna",
        hex_length=None,
        perceptual=True,
        default_threshold=0,
        _distance=_opaque,
        label="PhotoDNA",
        matching="none",
        rank=50,
        columns=_columns(vics="PhotoDNA", icse="PhotoDNA", csv="photodna"),
    ),
    # A known video: the value is the SHA-256 of its canonical frame list (tessera.hashsets.vpdq), the
    # frames travel beside it; thresholds are per frame (vPDQ compares PDQ frames like images).
    HashAlgorithm(
        name="vpdq",
        hex_length=64,
        perceptual=True,
        default_threshold=PDQ_MATCH_DISTANCE,
        _distance=_exact,
        label="vPDQ",
        min_quality=PDQ_MIN_QUALITY,
        matching="vpdq",
        rank=60,
    ),
):
    ALGORITHMS.register(_algo.name)(_algo)


def listed() -> list[HashAlgorithm]:
    """Every algorithm in listing order."""
    return sorted((a for _, a in ALGORITHMS), key=lambda a: (a.rank, a.name))


def exact_names() -> tuple[str, ...]:
    """Algorithms matched by equality in the database (MD5, SHA-1, SHA-256), in listing order."""
    return tuple(a.name for a in listed() if a.matching == "exact")


def hex_names() -> tuple[str, ...]:
    """Algorithms whose hex values hash-set files carry in columns of their own, in listing order."""
    return tuple(a.name for a in listed() if a.hex_length is not None and "csv" in a.columns)


def column_names(fmt: str) -> dict[str, str]:
    """Algorithm -> its column in format ``fmt`` ("vics", "icse", "csv", "case_uco"), in listing order."""
    return {a.name: a.columns[fmt] for a in listed() if fmt in a.columns}


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
    return ALGORITHMS.get("pdq").to_bits(hexes)


def _popcount(x: npt.NDArray[np.uint8]) -> npt.NDArray[np.integer[Any]]:
    import numpy as np

    if hasattr(np, "bitwise_count"):  # numpy >= 2.0: a native popcount
        return np.bitwise_count(x)
    table = np.array([bin(i).count("1") for i in range(256)], np.uint8)
    return table[x]


def hamming_matrix(
    queries: npt.NDArray[np.uint8], base: npt.NDArray[np.uint8], *, block: int = 1024
) -> npt.NDArray[np.int32]:
    """All pairwise Hamming distances, ``(m, n)`` int32, between rows of two uint8 arrays.

    ``queries`` may be a single hash of shape ``(32,)`` (result shape ``(1, n)``). Queries are
    processed in blocks so the temporary XOR array stays at ``block * n * 32`` bytes.
    """
    import numpy as np

    q = np.atleast_2d(np.asarray(queries, np.uint8))
    b = np.asarray(base, np.uint8)
    if q.shape[1] != b.shape[1]:
        raise ValueError(f"hash widths differ: {q.shape[1]} vs {b.shape[1]} bytes")
    out = np.empty((q.shape[0], b.shape[0]), np.int32)
    for start in range(0, q.shape[0], block):
        x = np.bitwise_xor(q[start : start + block, None, :], b[None, :, :])
        out[start : start + block] = _popcount(x).sum(axis=2, dtype=np.int32)
    return out
