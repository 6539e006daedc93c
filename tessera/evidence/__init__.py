"""Evidence sources: directory trees (later disk images) and the containers inside them.

``iter_evidence(root)`` yields one :class:`~tessera.records.EvidenceItem` per file, archives opened
in place with chained locators (``/Download/backup.zip!/photos/a.png``). Evidence is only ever read.
"""

import tessera.evidence.itunes_backup  # noqa: F401  (registers the iTunes/Finder backup source)
from tessera.evidence import compressed, cpio, directory, disk, tar, zip  # noqa: F401  (register the built-in plugins)
from tessera.evidence import ufdr  # noqa: F401  (Cellebrite UFDR: before zip)
from tessera.evidence.base import (
    CONTAINERS,
    SOURCES,
    ContainerFormat,
    EvidenceError,
    EvidenceSource,
    Limits,
    discard_spool,
    display_name,
    is_spooled,
    open_item,
    open_readonly,
)
from tessera.evidence.walk import expand, iter_evidence, pick_source, sniff_container

__all__ = [
    "CONTAINERS",
    "SOURCES",
    "ContainerFormat",
    "EvidenceError",
    "EvidenceSource",
    "Limits",
    "discard_spool",
    "display_name",
    "expand",
    "is_spooled",
    "iter_evidence",
    "open_item",
    "open_readonly",
    "pick_source",
    "sniff_container",
]
