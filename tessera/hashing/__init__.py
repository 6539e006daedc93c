"""Hashing: pure functions from bytes to records (digests, type by magic, PDQ, EXIF).

Entry point: :func:`hash_item`. Algorithms and their distances: :data:`ALGORITHMS`.
"""

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
from tessera.hashing.image import DRAFT_MIN_SIDE, PIXEL_LIMIT, analyse_image, pdq_from_image
from tessera.hashing.item import hash_item
from tessera.hashing.magic import sniff

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
