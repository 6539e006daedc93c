"""Hashing: pure functions from bytes to records (digests, type by magic, PDQ, EXIF).

Entry point: :func:`hash_item`. Algorithms and their distances: :data:`ALGORITHMS`.

The image, video and item modules are imported on first use: the hub and the store ask the algorithm
axis (:mod:`tessera.hashing.algorithms`) and must not need PIL or pdqhash for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tessera.hashing.algorithms import (
    ALGORITHMS,
    PDQ_MATCH_DISTANCE,
    PDQ_MIN_QUALITY,
    HashAlgorithm,
    bytes_to_hex,
    hamming_hex,
    hamming_matrix,
    pdq_hex_to_array,
    pdq_hex_to_bytes,
)

if TYPE_CHECKING:
    from tessera.hashing.image import DRAFT_MIN_SIDE, PIXEL_LIMIT, analyse_image, pdq_from_image
    from tessera.hashing.item import hash_item
    from tessera.hashing.magic import sniff

_LAZY = {
    "DRAFT_MIN_SIDE": "tessera.hashing.image",
    "PIXEL_LIMIT": "tessera.hashing.image",
    "analyse_image": "tessera.hashing.image",
    "pdq_from_image": "tessera.hashing.image",
    "hash_item": "tessera.hashing.item",
    "sniff": "tessera.hashing.magic",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "ALGORITHMS",
    "DRAFT_MIN_SIDE",
    "PDQ_MATCH_DISTANCE",
    "PDQ_MIN_QUALITY",
    "PIXEL_LIMIT",
    "HashAlgorithm",
    "analyse_image",
    "bytes_to_hex",
    "hamming_hex",
    "hamming_matrix",
    "hash_item",
    "pdq_from_image",
    "pdq_hex_to_array",
    "pdq_hex_to_bytes",
    "sniff",
]
