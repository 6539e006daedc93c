"""Helpers for the hash-set format tests: every value here is invented."""

from __future__ import annotations

import io
from typing import Any

from tessera.hashsets import open_hashset
from tessera.records import HashEntryRecord, HashSetInfo

MD5 = "0123456789abcdef0123456789abcdef"
SHA1 = "0123456789abcdef0123456789abcdef01234567"
SHA256 = "ab" * 32


def read(data: bytes, fmt: str = "auto", **options: Any) -> tuple[HashSetInfo, list[HashEntryRecord]]:
    reader = open_hashset(io.BytesIO(data), fmt, **options)
    return reader.info, list(reader)


def vics_doc(
    value: list[Any], *, key: str = "odata.metadata", version: str = "1.3", entity: str = "Media"
) -> bytes:
    """A hand-written VICS document, for fields the generators do not vary."""
    import json

    if key == "odata.metadata":
        url = f"http://github.com/ICMEC/ProjectVic/DataModels/{version}.xml#{entity}"
    else:
        url = f"http://github.com/VICSDATAMODEL/ProjectVic/DataModels/{version}.xml/US/$metadata#{entity}"
    return json.dumps({key: url, "value": value}).encode()
