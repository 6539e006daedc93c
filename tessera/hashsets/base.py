"""The contract every hash-set format plugin fulfils, and the registry that holds them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, ClassVar, Protocol

from tessera.plugins import Registry
from tessera.records import HashEntryRecord, HashSetInfo

#: How many bytes of a file ``sniff`` is shown.
SNIFF_BYTES = 64 * 1024


class HashSetReader(Protocol):
    """Entries of one opened hash-set file, streamed.

    ``info`` is filled in from the header before the first entry is yielded; facts found later in the
    file (a VICS case's trailing fields) are added to ``info.metadata`` as they are read, so it is
    complete once iteration has ended. A reader may be iterated once. Malformed input raises
    :class:`tessera.records.FormatError` at the first bad entry, never a silent stop.
    """

    info: HashSetInfo

    def __iter__(self) -> Iterator[HashEntryRecord]: ...


class HashSetFormat(Protocol):
    name: ClassVar[str]

    def sniff(self, head: bytes) -> bool:
        """Whether ``head`` (the first 64 KiB, possibly with a UTF-8 BOM) looks like this format."""
        ...

    def open(
        self, stream: BinaryIO, *, algorithm: str | None = None, category: int | None = None
    ) -> HashSetReader: ...


FORMATS: Registry[HashSetFormat] = Registry("hash-set format")
